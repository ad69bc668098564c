using AsiTrace.Model.Alloc;

namespace AsiTrace.Replay;

/// <summary>Which allocator rules hold for a traced kernel release (docs/model.md §0, §1.7, §1.9).</summary>
public static class KernelEra
{
    /// <summary>"6.18.44-fc" → (6, 18); null when the release does not start with two numbers.</summary>
    public static (int Major, int Minor)? Parse(string? release)
    {
        if (string.IsNullOrEmpty(release)) return null;
        var parts = release.Split('.', 3);
        if (parts.Length < 2 || !int.TryParse(parts[0], out int major)) return null;
        int i = 0;
        while (i < parts[1].Length && char.IsAsciiDigit(parts[1][i])) i++;
        if (i == 0 || !int.TryParse(parts[1][..i], out int minor)) return null;
        return (major, minor);
    }

    static bool AtLeast((int Major, int Minor) v, int major, int minor) => v.Major > major || (v.Major == major && v.Minor >= minor);

    /// <summary>v6.15+ claim-then-steal; v6.10–v6.14 the fallback returns the page; ≤ v6.9 move and retry.</summary>
    public static FallbackRules Fallback((int Major, int Minor) v) =>
        AtLeast(v, 6, 15) ? FallbackRules.ClaimThenSteal : AtLeast(v, 6, 10) ? FallbackRules.Legacy610 : FallbackRules.Legacy69;

    /// <summary>v6.7+ auto-tuned pcp; v5.14–v6.6 high-order lists with fixed high and free_factor (v5.18+ with
    /// free_high); older: order 0 only.</summary>
    public static PcpRules Pcp((int Major, int Minor) v) =>
        AtLeast(v, 6, 7) ? PcpRules.V67 : AtLeast(v, 5, 18) ? PcpRules.V518 : AtLeast(v, 5, 14) ? PcpRules.V514 : PcpRules.Legacy;

    /// <summary>v6.16+: free_high needs free_count ≥ batch + high_min / 2 (<see cref="PageAllocatorOptions.FreeHighAboveHalfHighMin"/>).</summary>
    public static bool FreeHighAboveHalfHighMin((int Major, int Minor) v) => AtLeast(v, 6, 16);
}
