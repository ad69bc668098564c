namespace AsiTrace.Replay.Policies;

public enum InitialSensitivity { Sensitive, Nonsensitive, Trace }

/// <summary>
/// Every policy knob of docs/model.md §8.3 (and the ASI transition policy of §6.1) with the spec's default.
/// </summary>
public sealed record PolicyKnobs
{
    /// <summary>asi-freetypes: pageblock sensitivity at the start — all sensitive (the series boots that way), all
    /// nonsensitive, or in proportion to the trace's mix of user (sensitive) pages.</summary>
    public InitialSensitivity InitialSensitivity { get; init; } = InitialSensitivity.Sensitive;
    /// <summary>asi-freetypes: where a request may flip a pageblock — after every fallback and HIGHATOMIC failed (the
    /// series), before stealing, or before claiming.</summary>
    public Model.Alloc.ConvertPoint FlipWhen { get; init; } = Model.Alloc.ConvertPoint.AfterFallbacks;
    /// <summary>asi-freetypes / unmapped: pageblocks changed per flip (the needed one plus the rest ahead of demand).</summary>
    public int FlipPageblocks { get; init; } = 1;
    /// <summary>asi-freetypes: sensitive-ward flips per kernel-range flush (1: flush each; more: batched, which leaves
    /// stale restricted translations until the flush — an estimate of what batching would save).</summary>
    public int SensitiveFlushBatch { get; init; } = 1;
    /// <summary>Ablation: one set of pcp lists for both sensitivities (invalid as a design; shows what doubling costs).</summary>
    public bool SharedPcpLists { get; init; }
    /// <summary>unmapped: pageblocks kept converted and free in the pool ahead of demand (0: convert on demand).</summary>
    public int UnmappedReserve { get; init; }
    /// <summary>unmapped: every this many ms of trace time, wholly free unmapped pageblocks beyond the reserve go back to
    /// the direct map (0: never).</summary>
    public int UnmappedReturnAfterMs { get; init; }
    /// <summary>asi-freetypes: may ALLOC_NOBLOCK requests flip a pageblock (with a deferred flush)? The series: no.</summary>
    public bool NoBlockMayFlip { get; init; }
    /// <summary>asi-freetypes: skip zeroing a block that becomes nonsensitive (init_on_free kernels).</summary>
    public bool SkipZeroOnFlip { get; init; }
    /// <summary>asi-rfc: pages the asynchronous unmap worker collects before it unmaps them and flushes once
    /// (estimate: the RFC queues per CPU and flushes per work item).</summary>
    public int RfcUnmapBatch { get; init; } = 32;
    // The ASI runtime features (docs/model.md §8.3). Unset (null), each keeps the value of the policy's published
    // configuration (Replay/Asi/AsiRuntimeConfig.cs: RFC v2 for asi-rfc and asi-freetypes, the Aug 2025 prototype for
    // asi-aug2025); set, it applies to every ASI policy of the run.
    /// <summary>Exit on every context switch (RFC v2), or only when the address space changes (false).</summary>
    public bool? ExitOnEveryContextSwitch { get; init; }
    /// <summary>IBPB on every exit.</summary>
    public bool? Ibpb { get; init; }
    /// <summary>RSB stuffing on every exit.</summary>
    public bool? RsbStuff { get; init; }
    /// <summary>L1D flush before returning to the restricted space.</summary>
    public bool? L1dFlush { get; init; }
    /// <summary>VERW buffer clearing before returning to the restricted space.</summary>
    public bool? Verw { get; init; }
    /// <summary>The TLB flushed on each transition (CR3 no-flush bit cleared) instead of PCID no-flush.</summary>
    public bool? FlushOnTransition { get; init; }
    /// <summary>Page-cache copies through the ephmap instead of an exit.</summary>
    public bool? Ephmap { get; init; }
    /// <summary>mermap window per CPU in pages (2 MiB) and concurrent slots.</summary>
    public int MermapWindowPages { get; init; } = 512;
    public int MermapSlots { get; init; } = 4;
    /// <summary>Ignore the trace's kernel-entry events (system calls, user faults) and infer the entries as for a
    /// trace without them: what the inference rule does to the counts, measured on a trace that has them.</summary>
    public bool InferEntries { get; init; }
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
        object parsed = prop.PropertyType == typeof(bool) || prop.PropertyType == typeof(bool?)
            ? (bool.TryParse(value, out bool b) ? b : throw new FormatException($"--knob {prop.Name}: '{value}' is not true/false"))
            : prop.PropertyType.IsEnum
            ? (Enum.TryParse(prop.PropertyType, value, ignoreCase: true, out var ev) && Enum.IsDefined(prop.PropertyType, ev!) ? ev!
                : throw new FormatException($"--knob {prop.Name}: '{value}' is not one of {string.Join(", ", Enum.GetNames(prop.PropertyType))}"))
            : ParseCount(prop.Name, value);
        var copy = this with { };
        prop.SetValue(copy, parsed);
        return copy;
    }

    /// <summary>Knobs that count pages, pageblocks or slots and mean nothing at 0 (a 0-page mermap window never
    /// fits a copy, and the replay would wait for one forever).</summary>
    static readonly HashSet<string> AtLeastOne = new(StringComparer.Ordinal)
        { nameof(FlipPageblocks), nameof(SensitiveFlushBatch), nameof(RfcUnmapBatch), nameof(MermapWindowPages), nameof(MermapSlots) };

    /// <summary>A bound no knob needs to pass: 2^20 pageblocks is 2 TiB, 2^20 pages a 4 GiB window.</summary>
    const int MaxCount = 1 << 20;

    static int ParseCount(string name, string value)
    {
        int min = AtLeastOne.Contains(name) ? 1 : 0;
        return int.TryParse(value, out int i) && i >= min && i <= MaxCount ? i
            : throw new FormatException($"--knob {name}: '{value}' is not an integer from {min} to {MaxCount:N0}");
    }
}
