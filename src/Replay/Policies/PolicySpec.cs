namespace AsiTrace.Replay.Policies;

/// <summary>The policies of design.md (Replay: Policies).</summary>
public enum PolicyKind { NoAsi, AsiRfc, AsiFreetypes, Unmapped, SecretFree }

/// <summary>A policy and whether the <c>+mermap</c> modifier applies.</summary>
public sealed record PolicySpec(PolicyKind Kind, bool Mermap = false)
{
    public static readonly string[] KindNames = ["noasi", "asi-rfc", "asi-freetypes", "unmapped", "secretfree"];
    /// <summary>The policies <c>replay</c> runs when none are named.</summary>
    public static readonly string DefaultList = "noasi,asi-rfc,asi-freetypes,asi-freetypes+mermap,unmapped,secretfree";

    public string Name => KindNames[(int)Kind] + (Mermap ? "+mermap" : "");
    /// <summary>ASI on: a restricted address space, asi_exits, no global pages.</summary>
    public bool IsAsi => Kind is PolicyKind.AsiRfc or PolicyKind.AsiFreetypes;

    public static bool TryParse(string text, out PolicySpec spec)
    {
        spec = new PolicySpec(PolicyKind.NoAsi);
        bool mermap = text.EndsWith("+mermap", StringComparison.Ordinal);
        string kind = mermap ? text[..^"+mermap".Length] : text;
        int i = Array.IndexOf(KindNames, kind);
        if (i < 0) return false;
        spec = new PolicySpec((PolicyKind)i, mermap);
        return true;
    }
}

/// <summary>
/// Every policy knob of model-reference.md §8.3 (and the ASI transition policy of §6.1) with the spec's default.
/// </summary>
public sealed record PolicyKnobs
{
    /// <summary>asi-freetypes: the flag every pageblock starts with — sensitive (the series' default) or nonsensitive.</summary>
    public bool InitialSensitive { get; init; } = true;
    /// <summary>asi-freetypes: may ALLOC_NOBLOCK requests flip a pageblock (with a deferred flush)? The series: no.</summary>
    public bool NoBlockMayFlip { get; init; }
    /// <summary>asi-freetypes: skip zeroing a block that becomes nonsensitive (init_on_free kernels).</summary>
    public bool SkipZeroOnFlip { get; init; }
    /// <summary>asi-rfc: pages the asynchronous unmap worker collects before it unmaps them and flushes once
    /// (estimate: the RFC queues per CPU and flushes per work item).</summary>
    public int RfcUnmapBatch { get; init; } = 32;
    /// <summary>RFCv2 exits on every context switch; Google's internal version only when the mm changes.</summary>
    public bool ExitOnEveryContextSwitch { get; init; } = true;
    /// <summary>Transition flushes (RFCv2 hard-codes IBPB and RSB stuffing on every asi_exit).</summary>
    public bool Ibpb { get; init; } = true;
    public bool RsbStuff { get; init; } = true;
    public bool L1dFlush { get; init; }
    public bool Verw { get; init; }
    /// <summary>CR3 switch flushes the TLB on each enter/exit (the Aug 2025 prototype) instead of PCID no-flush.</summary>
    public bool FlushOnTransition { get; init; }
    /// <summary>mermap window per CPU in pages (2 MiB) and concurrent slots.</summary>
    public int MermapWindowPages { get; init; } = 512;
    public int MermapSlots { get; init; } = 4;
    /// <summary>Kernel-range flushes by INVLPGB broadcast instead of IPIs (AMD presets).</summary>
    public bool Invlpgb { get; init; }

    /// <summary>Applies one <c>--knob NAME=VALUE</c> (property names as above, case-insensitive; true/false or an integer).</summary>
    public PolicyKnobs With(string assignment)
    {
        int eq = assignment.IndexOf('=');
        if (eq <= 0) throw new FormatException($"--knob '{assignment}': expected NAME=VALUE");
        string name = assignment[..eq].Trim(), value = assignment[(eq + 1)..].Trim();
        var prop = typeof(PolicyKnobs).GetProperties().FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase))
            ?? throw new FormatException($"--knob '{name}': unknown; knobs: {string.Join(", ", typeof(PolicyKnobs).GetProperties().Select(p => p.Name))}");
        object parsed = prop.PropertyType == typeof(bool)
            ? (bool.TryParse(value, out bool b) ? b : throw new FormatException($"--knob {prop.Name}: '{value}' is not true/false"))
            : (int.TryParse(value, out int i) && i > 0 ? i : throw new FormatException($"--knob {prop.Name}: '{value}' is not a positive integer"));
        var copy = this with { };
        prop.SetValue(copy, parsed);
        return copy;
    }
}
