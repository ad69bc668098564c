namespace AsiTrace.Replay.Policies;

/// <summary>The policies (docs/model.md, "Policies"); each is one class in this folder.</summary>
public enum PolicyKind { NoAsi, AsiRfc, AsiFreetypes, Unmapped, SecretFree, AsiAug2025 }

/// <summary>A policy and whether the <c>+mermap</c> modifier applies.</summary>
public sealed record PolicySpec(PolicyKind Kind, bool Mermap = false)
{
    public static readonly string[] KindNames = ["noasi", "asi-rfc", "asi-freetypes", "unmapped", "secretfree", "asi-aug2025"];
    /// <summary>The policies <c>replay</c> runs when none are named.</summary>
    public static readonly string DefaultList = "noasi,asi-rfc,asi-freetypes,asi-freetypes+mermap,unmapped,secretfree";

    public string Name => KindNames[(int)Kind] + (Mermap ? "+mermap" : "");

    /// <summary>The policy object that replays this spec: the kind's class, wrapped in <see cref="WithMermap"/> when
    /// the modifier is on.</summary>
    public IPolicy Create(PolicyKnobs knobs)
    {
        IPolicy p = Kind switch
        {
            PolicyKind.NoAsi => new NoAsi(),
            PolicyKind.AsiRfc => new AsiRfc(knobs),
            PolicyKind.AsiFreetypes => new AsiFreetypes(knobs),
            PolicyKind.Unmapped => new Unmapped(knobs),
            PolicyKind.SecretFree => new SecretFree(),
            PolicyKind.AsiAug2025 => new AsiAug2025(knobs),
            _ => throw new ArgumentOutOfRangeException(nameof(Kind), Kind, null),
        };
        return Mermap ? new WithMermap(p, knobs) : p;
    }

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

    /// <summary>A <c>--policy</c> list: comma-separated names, each known, none empty, duplicates dropped.</summary>
    public static bool TryParseList(string text, out List<PolicySpec> specs, out string error)
    {
        specs = new List<PolicySpec>();
        error = "";
        foreach (var raw in text.Split(','))
        {
            string p = raw.Trim();
            if (p.Length == 0) { error = $"--policy '{text}': an empty policy name; policies: {string.Join(", ", KindNames)}, each optionally with +mermap"; return false; }
            if (!TryParse(p, out var ps)) { error = $"unknown policy '{p}'; policies: {string.Join(", ", KindNames)}, each optionally with +mermap"; return false; }
            if (!specs.Contains(ps)) specs.Add(ps);
        }
        return true;
    }
}
