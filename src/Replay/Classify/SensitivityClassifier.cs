using AsiTrace.Ingest.Canonical;
using AsiTrace.Replay.Requests;

namespace AsiTrace.Replay.Classify;

/// <summary>What an allocation holds, as the ASI policies see it (docs/model.md §8.2).</summary>
public enum Sensitivity : byte { Nonsensitive, Sensitive, Unmapped }

/// <summary>Why an allocation got its class: a user rule, or which default rule.</summary>
public enum ClassReason : byte { Rule, Hardwall, PageCache, Default, Unmapped }

/// <summary>
/// One <c>--classify</c> rule: <c>KEY=VALUE[,KEY=VALUE…]:CLASS</c> with keys <c>comm</c> (exact, or a prefix ending in
/// <c>*</c>), <c>pid</c>, <c>gfp</c> (a flag name such as <c>__GFP_HARDWALL</c> that must be set), <c>order</c>, and
/// CLASS one of <c>nonsensitive</c>, <c>sensitive</c>, <c>unmapped</c>. Every condition must hold.
/// </summary>
public sealed record ClassifyRule(string? Comm, int? Pid, ulong GfpMask, int? Order, Sensitivity Class, string Text)
{
    public static ClassifyRule Parse(string text)
    {
        int colon = text.LastIndexOf(':');
        if (colon <= 0) throw new FormatException($"--classify '{text}': expected KEY=VALUE[,KEY=VALUE]:CLASS");
        var cls = text[(colon + 1)..].Trim() switch
        {
            "nonsensitive" => Sensitivity.Nonsensitive,
            "sensitive" => Sensitivity.Sensitive,
            "unmapped" => Sensitivity.Unmapped,
            var c => throw new FormatException($"--classify '{text}': class '{c}' is not nonsensitive, sensitive or unmapped"),
        };
        string? comm = null; int? pid = null, order = null; ulong gfp = 0;
        foreach (var cond in text[..colon].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int eq = cond.IndexOf('=');
            if (eq <= 0) throw new FormatException($"--classify '{text}': condition '{cond}' is not KEY=VALUE");
            string key = cond[..eq], value = cond[(eq + 1)..];
            switch (key)
            {
                case "comm": comm = value; break;
                case "pid": pid = int.TryParse(value, out int p) ? p : throw new FormatException($"--classify '{text}': pid '{value}' is not a number"); break;
                case "order": order = int.TryParse(value, out int o) && o is >= 0 and <= 20 ? o : throw new FormatException($"--classify '{text}': order '{value}' is not 0–20"); break;
                case "gfp":
                    foreach (var name in value.Split('|', StringSplitOptions.RemoveEmptyEntries))
                        gfp |= GfpNames.TrySingle(name, out var flag) ? (ulong)flag : throw new FormatException($"--classify '{text}': unknown gfp flag '{name}'");
                    break;
                default: throw new FormatException($"--classify '{text}': unknown key '{key}' (comm, pid, gfp, order)");
            }
        }
        return new ClassifyRule(comm, pid, gfp, order, cls, text);
    }

    public bool Matches(in AllocRequest r, string? comm)
    {
        if (Pid is { } p && r.Pid != p) return false;
        if (Order is { } o && r.Order != o) return false;
        if (GfpMask != 0 && (r.Gfp & GfpMask) != GfpMask) return false;
        if (Comm is { } c)
        {
            if (comm is null) return false;
            if (c.EndsWith('*') ? !comm.StartsWith(c[..^1], StringComparison.Ordinal) : comm != c) return false;
        }
        return true;
    }
}

/// <summary>
/// The sensitivity of each allocation: user rules first (in order), then the defaults of docs/model.md §8.2 —
/// <c>__GFP_UNMAPPED</c> (traces of kernels with the 2026 series) ⇒ unmapped; <c>__GFP_HARDWALL</c> (GFP_USER and everything built on it) ⇒ user data, sensitive; an allocation the trace later
/// inserts into the page cache (<c>mm_filemap_add_to_page_cache</c>) ⇒ page cache, sensitive; everything else nonsensitive.
/// <paramref name="isPageCache"/> is null when the trace added no allocation to the page cache.
/// </summary>
public sealed class SensitivityClassifier(IReadOnlyList<ClassifyRule> rules, Func<int, string?> commOf, Func<long, bool>? isPageCache)
{
    public long[] Counts { get; } = new long[Enum.GetValues<Sensitivity>().Length];
    public long[] CountsByReason { get; } = new long[Enum.GetValues<ClassReason>().Length];

    readonly int _ruleCount = rules.Count;

    public Sensitivity Classify(in AllocRequest r, out ClassReason reason)
    {
        if (_ruleCount > 0)
        {
            string? comm = r.CommId >= 0 ? commOf(r.CommId) : null;
            foreach (var rule in rules)
                if (rule.Matches(in r, comm)) return Count(rule.Class, reason = ClassReason.Rule);
        }
        if ((r.Gfp & (ulong)Gfp.Unmapped) != 0) return Count(Sensitivity.Unmapped, reason = ClassReason.Unmapped);
        // Page cache first: its gfp often carries __GFP_HARDWALL too (mapping_gfp_mask), and knowing it is page cache
        // tells the policies more (e.g. it is not a copy-on-write copy).
        if (r.Ordinal >= 0 && isPageCache is not null && isPageCache(r.Ordinal)) return Count(Sensitivity.Sensitive, reason = ClassReason.PageCache);
        if ((r.Gfp & (ulong)Gfp.Hardwall) != 0) return Count(Sensitivity.Sensitive, reason = ClassReason.Hardwall);
        return Count(Sensitivity.Nonsensitive, reason = ClassReason.Default);
    }

    Sensitivity Count(Sensitivity s, ClassReason reason)
    {
        Counts[(int)s]++;
        CountsByReason[(int)reason]++;
        return s;
    }
}
