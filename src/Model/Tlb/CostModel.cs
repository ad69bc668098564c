using System.Text.Json;

namespace AsiTrace.Model.Tlb;

/// <summary>One cost constant with where its value comes from (docs/costs.md, §8.5).</summary>
public sealed record Cost(double Value, string Unit, string Source, bool Estimate)
{
    public double Ns(double ghz) => Unit == "cycles" ? Value / ghz : Value;
}

/// <summary>
/// The cost constants of the model (defaults from docs/costs.md), overridable from JSON
/// (<c>{"InvlpgPerPage": 120, "CpuGhz": 3.0}</c>: a number replaces the default value and keeps its unit). The model
/// returns costs as data; it never measures time.
/// </summary>
public sealed record CostModel
{
    public Cost InvlpgPerPage { get; init; } = new(100, "ns", "kernel arch/x86/mm/tlb.c, Documentation/arch/x86/tlb.rst (\"about 100 ns\")", false);
    public Cost LocalFullFlush { get; init; } = new(150, "cycles", "docs/costs.md", true);
    public Cost GlobalFlush { get; init; } = new(300, "cycles", "docs/costs.md", true);
    public Cost PageWalk { get; init; } = new(150, "cycles", "docs/costs.md (average; 30 with a paging-structure-cache hit)", true);
    public Cost IpiInitiatorBase { get; init; } = new(1500, "ns", "docs/costs.md (1.5 µs + 0.2 µs per target)", true);
    public Cost IpiInitiatorPerTarget { get; init; } = new(200, "ns", "docs/costs.md", true);
    public Cost IpiPerTarget { get; init; } = new(700, "ns", "docs/costs.md", true);
    public Cost Invlpgb { get; init; } = new(500, "ns", "docs/costs.md (INVLPGB + TLBSYNC)", true);
    public Cost Zero4K { get; init; } = new(250, "ns", "docs/costs.md", true);
    /// <summary>Copying 4 KiB between the page cache and user memory (read()/write()): not in §8.5; taken equal to zeroing
    /// 4 KiB (one streaming pass over the page) — an estimate.</summary>
    /// <summary>A read()/write() of a cached page apart from the data copy: entry/exit, fd and page-cache lookup.</summary>
    public Cost FileIoBase { get; init; } = new(750, "ns", "estimate from seed 002: ASI-off FIO randread at 1,003,102 IOPS ≈ 1.0 µs per 4 KiB read per job (one job assumed), minus Copy4K", true);
    public Cost Copy4K { get; init; } = new(250, "ns", "estimate: equal to Zero4K (docs/costs.md has no copy constant)", true);
    public Cost TablePageAlloc { get; init; } = new(500, "ns", "docs/costs.md (split)", true);
    public Cost AsiExit { get; init; } = new(1500, "cycles", "docs/costs.md (#PF + asi_exit without flushes)", true);
    public Cost AsiEnter { get; init; } = new(200, "cycles", "docs/costs.md", true);
    public Cost Ibpb { get; init; } = new(4000, "cycles", "docs/costs.md", true);
    public Cost RsbStuff { get; init; } = new(60, "cycles", "docs/costs.md", true);
    public Cost L1dFlush { get; init; } = new(2000, "cycles", "docs/costs.md (+ refill)", true);
    public Cost Verw { get; init; } = new(300, "cycles", "docs/costs.md", true);
    /// <summary>Cycle ↔ time conversion (configuration: take it from the traced machine).</summary>
    public double CpuGhz { get; init; } = 2.5;
    public string CpuGhzSource { get; init; } = "docs/costs.md default (configuration: set the traced machine's clock)";

    /// <summary>Time the flush work in <paramref name="c"/> costs, summed over all CPUs (ns).</summary>
    public double FlushNs(FlushCounters c) =>
        c.Invlpg * InvlpgPerPage.Ns(CpuGhz)
        + c.LocalFullFlushes * LocalFullFlush.Ns(CpuGhz)
        + c.GlobalFlushes * GlobalFlush.Ns(CpuGhz)
        + c.IpisReceived * IpiPerTarget.Ns(CpuGhz)
        + (c.IpisSent > 0 ? IpiInitiatorPerTarget.Ns(CpuGhz) * c.IpisSent : 0)
        + c.InvlpgbBroadcasts * Invlpgb.Ns(CpuGhz);

    /// <summary>Applies overrides from a JSON object of numbers keyed by constant name; unknown names are an error.</summary>
    public CostModel WithOverrides(string json)
    {
        using var doc = JsonDocument.Parse(json);
        var result = this;
        foreach (var p in doc.RootElement.EnumerateObject())
        {
            if (p.Value.ValueKind != JsonValueKind.Number) throw new FormatException($"cost '{p.Name}' must be a number");
            double v = p.Value.GetDouble();
            if (v < 0 || double.IsNaN(v)) throw new FormatException($"cost '{p.Name}' must be non-negative");
            result = p.Name switch
            {
                nameof(CpuGhz) => v > 0 ? result with { CpuGhz = v, CpuGhzSource = "override" } : throw new FormatException("CpuGhz must be positive"),
                nameof(InvlpgPerPage) => result with { InvlpgPerPage = Override(result.InvlpgPerPage, v) },
                nameof(LocalFullFlush) => result with { LocalFullFlush = Override(result.LocalFullFlush, v) },
                nameof(GlobalFlush) => result with { GlobalFlush = Override(result.GlobalFlush, v) },
                nameof(PageWalk) => result with { PageWalk = Override(result.PageWalk, v) },
                nameof(IpiInitiatorBase) => result with { IpiInitiatorBase = Override(result.IpiInitiatorBase, v) },
                nameof(IpiInitiatorPerTarget) => result with { IpiInitiatorPerTarget = Override(result.IpiInitiatorPerTarget, v) },
                nameof(IpiPerTarget) => result with { IpiPerTarget = Override(result.IpiPerTarget, v) },
                nameof(Invlpgb) => result with { Invlpgb = Override(result.Invlpgb, v) },
                nameof(Zero4K) => result with { Zero4K = Override(result.Zero4K, v) },
                nameof(Copy4K) => result with { Copy4K = Override(result.Copy4K, v) },
                nameof(FileIoBase) => result with { FileIoBase = Override(result.FileIoBase, v) },
                nameof(TablePageAlloc) => result with { TablePageAlloc = Override(result.TablePageAlloc, v) },
                nameof(AsiExit) => result with { AsiExit = Override(result.AsiExit, v) },
                nameof(AsiEnter) => result with { AsiEnter = Override(result.AsiEnter, v) },
                nameof(Ibpb) => result with { Ibpb = Override(result.Ibpb, v) },
                nameof(RsbStuff) => result with { RsbStuff = Override(result.RsbStuff, v) },
                nameof(L1dFlush) => result with { L1dFlush = Override(result.L1dFlush, v) },
                nameof(Verw) => result with { Verw = Override(result.Verw, v) },
                _ => throw new FormatException($"unknown cost '{p.Name}'"),
            };
        }
        return result;
    }

    static Cost Override(Cost c, double v) => c with { Value = v, Source = "override", Estimate = false };
}
