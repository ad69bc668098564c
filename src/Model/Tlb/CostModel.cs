using System.Text.Json;

namespace AsiTrace.Model.Tlb;

/// <summary>One cost constant: its value and unit, where the value comes from, whether it is an estimate, and the range
/// its source allows (<see cref="Low"/>–<see cref="High"/>, in <see cref="Unit"/>). docs/costs.md lists them all.</summary>
public sealed record Cost(double Value, string Unit, string Source, bool Estimate, double Low, double High)
{
    public double Ns(double ghz) => Unit == "cycles" ? Value / ghz : Value;
}

/// <summary>The cost constants by name: what a cost ledger counts in.</summary>
public enum CostConstant
{
    InvlpgPerPage, LocalFullFlush, GlobalFlush, PageWalk, IpiInitiatorBase, IpiInitiatorPerTarget, IpiPerTarget, Invlpgb,
    Zero4K, Copy4K, FileIoBase, TablePageAlloc, AsiExit, AsiEnter, Ibpb, RsbStuff, L1dFlush, Verw,
}

/// <summary>
/// The cost constants of the model (docs/costs.md), overridable from JSON (<c>{"InvlpgPerPage": 120, "CpuGhz": 3.0}</c>: a
/// number replaces the default value and keeps its unit). The model returns costs as data; it never measures time.
/// </summary>
public sealed record CostModel
{
    public Cost InvlpgPerPage { get; init; } = new(100, "ns", "kernel: arch/x86/mm/tlb.c and Documentation/arch/x86/tlb.rst (\"about 100 ns\")", false, 50, 250);
    public Cost LocalFullFlush { get; init; } = new(150, "cycles", "estimate: CR3 reload, direct cost only (docs/costs.md)", true, 100, 500);
    public Cost GlobalFlush { get; init; } = new(300, "cycles", "estimate: INVPCID all-contexts or CR4.PGE toggle, direct cost (docs/costs.md)", true, 200, 1000);
    public Cost PageWalk { get; init; } = new(150, "cycles", "estimate: average walk; 20–40 with hot paging-structure caches (docs/costs.md)", true, 20, 600);
    public Cost IpiInitiatorBase { get; init; } = new(1500, "ns", "estimate: flush IPI round trip on a Xeon (docs/costs.md)", true, 1000, 3000);
    public Cost IpiInitiatorPerTarget { get; init; } = new(200, "ns", "estimate: each further target's share of the initiator's wait (docs/costs.md)", true, 100, 500);
    public Cost IpiPerTarget { get; init; } = new(700, "ns", "estimate: interrupt entry, flush and exit on a target (docs/costs.md)", true, 500, 2000);
    public Cost Invlpgb { get; init; } = new(500, "ns", "estimate: one INVLPGB + TLBSYNC broadcast (docs/costs.md)", true, 300, 2000);
    public Cost Zero4K { get; init; } = new(250, "ns", "estimate: clear_page_erms, cache-hot to DRAM-bound (docs/costs.md)", true, 100, 1000);
    /// <summary>A read()/write() of a cached page apart from the data copy: entry/exit, fd and page-cache lookup.</summary>
    public Cost FileIoBase { get; init; } = new(750, "ns", "estimate from the Aug 2025 ASI prototype's FIO numbers: ASI-off FIO randread at 1,003,102 IOPS ≈ 1.0 µs per 4 KiB read per job (one job assumed), minus Copy4K (docs/costs.md)", true, 500, 1500);
    /// <summary>Copying 4 KiB between the page cache and user memory (read()/write()): no published figure; taken equal to
    /// zeroing 4 KiB (one streaming pass over the page).</summary>
    public Cost Copy4K { get; init; } = new(250, "ns", "estimate: equal to Zero4K, no published figure (docs/costs.md)", true, 100, 1000);
    public Cost TablePageAlloc { get; init; } = new(500, "ns", "estimate: alloc_pages(GFP_KERNEL) for a split's table plus 512 entries (docs/costs.md)", true, 200, 5000);
    public Cost AsiExit { get; init; } = new(1500, "cycles", "estimate: #PF + asi_exit without mitigation flushes (docs/costs.md)", true, 1000, 3000);
    public Cost AsiEnter { get; init; } = new(200, "cycles", "estimate: CR3 write back, without flushes (docs/costs.md)", true, 100, 500);
    public Cost Ibpb { get; init; } = new(4000, "cycles", "estimate: IA32_PRED_CMD write, no official latency (docs/costs.md)", true, 1000, 20000);
    public Cost RsbStuff { get; init; } = new(60, "cycles", "estimate: 32 CALLs (docs/costs.md)", true, 30, 150);
    public Cost L1dFlush { get; init; } = new(2000, "cycles", "estimate: IA32_FLUSH_CMD plus refill (docs/costs.md)", true, 1000, 5000);
    public Cost Verw { get; init; } = new(300, "cycles", "estimate: MDS/RFDS buffer clearing (docs/costs.md)", true, 100, 1000);
    /// <summary>Cycle ↔ time conversion (configuration: take it from the traced machine).</summary>
    public double CpuGhz { get; init; } = 2.5;
    public string CpuGhzSource { get; init; } = "default (configuration: set the traced machine's clock; docs/costs.md)";

    public static readonly int ConstantCount = Enum.GetValues<CostConstant>().Length;

    /// <summary>The constant called <paramref name="k"/>.</summary>
    public Cost Get(CostConstant k) => k switch
    {
        CostConstant.InvlpgPerPage => InvlpgPerPage, CostConstant.LocalFullFlush => LocalFullFlush, CostConstant.GlobalFlush => GlobalFlush,
        CostConstant.PageWalk => PageWalk, CostConstant.IpiInitiatorBase => IpiInitiatorBase, CostConstant.IpiInitiatorPerTarget => IpiInitiatorPerTarget,
        CostConstant.IpiPerTarget => IpiPerTarget, CostConstant.Invlpgb => Invlpgb, CostConstant.Zero4K => Zero4K, CostConstant.Copy4K => Copy4K,
        CostConstant.FileIoBase => FileIoBase, CostConstant.TablePageAlloc => TablePageAlloc, CostConstant.AsiExit => AsiExit,
        CostConstant.AsiEnter => AsiEnter, CostConstant.Ibpb => Ibpb, CostConstant.RsbStuff => RsbStuff, CostConstant.L1dFlush => L1dFlush,
        CostConstant.Verw => Verw, _ => throw new ArgumentOutOfRangeException(nameof(k)),
    };

    /// <summary>Every constant in nanoseconds at <see cref="CpuGhz"/>, indexed by <see cref="CostConstant"/>.</summary>
    public double[] NsVector(Func<Cost, double>? pick = null)
    {
        var v = new double[ConstantCount];
        for (int k = 0; k < v.Length; k++)
        {
            var c = Get((CostConstant)k);
            double value = pick?.Invoke(c) ?? c.Value;
            v[k] = c.Unit == "cycles" ? value / CpuGhz : value;
        }
        return v;
    }

    /// <summary>Time the flush work in <paramref name="c"/> costs, summed over all CPUs (ns): the initiators' waits
    /// (each IPI round's base and per-target share), every CPU's INVLPGs and full flushes, the targets' handling, and
    /// INVLPGB broadcasts.</summary>
    public double FlushNs(FlushCounters c) => FlushNs(c.Tally());

    /// <inheritdoc cref="FlushNs(FlushCounters)"/>
    public double FlushNs(in FlushTally c) =>
        c.Invlpg * InvlpgPerPage.Ns(CpuGhz)
        + c.LocalFullFlushes * LocalFullFlush.Ns(CpuGhz)
        + c.GlobalFlushes * GlobalFlush.Ns(CpuGhz)
        + c.IpisReceived * IpiPerTarget.Ns(CpuGhz)
        + c.IpiRounds * IpiInitiatorBase.Ns(CpuGhz)
        + (c.IpisSent > 0 ? IpiInitiatorPerTarget.Ns(CpuGhz) * c.IpisSent : 0)
        + c.InvlpgbBroadcasts * Invlpgb.Ns(CpuGhz);

    /// <summary>The flush work in <paramref name="c"/> as counts of constants (<see cref="FlushNs"/> is their cost).</summary>
    public static IEnumerable<(CostConstant, double)> FlushCounts(FlushCounters c) =>
    [
        (CostConstant.InvlpgPerPage, c.Invlpg), (CostConstant.LocalFullFlush, c.LocalFullFlushes), (CostConstant.GlobalFlush, c.GlobalFlushes),
        (CostConstant.IpiPerTarget, c.IpisReceived), (CostConstant.IpiInitiatorBase, c.IpiRounds),
        (CostConstant.IpiInitiatorPerTarget, c.IpisSent), (CostConstant.Invlpgb, c.InvlpgbBroadcasts),
    ];

    /// <summary>
    /// Applies overrides from a JSON object keyed by constant name; unknown names are an error, keys starting with '_'
    /// (a calibration's notes) are skipped. A value is a number (it replaces the value and keeps the unit) or an object
    /// <c>{"value": n, "unit": "ns"|"cycles", "source": "…", "low": n, "high": n}</c>, as <c>asitrace calibrate</c> writes.
    /// </summary>
    public CostModel WithOverrides(string json)
    {
        using var doc = JsonDocument.Parse(json);
        if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new FormatException("costs must be a JSON object keyed by constant name");
        var result = this;
        foreach (var p in doc.RootElement.EnumerateObject())
        {
            if (p.Name.StartsWith('_')) continue;
            var o = ParseOverride(p);
            if (p.Name == nameof(CpuGhz))
            {
                if (o.Value <= 0) throw new FormatException("CpuGhz must be positive");
                result = result with { CpuGhz = o.Value, CpuGhzSource = o.Source ?? "override" };
                continue;
            }
            if (!Enum.TryParse<CostConstant>(p.Name, out var k)) throw new FormatException($"unknown cost '{p.Name}'; the costs are CpuGhz, {string.Join(", ", Enum.GetNames<CostConstant>())}");
            result = result.With(k, Override(result.Get(k), o));
        }
        return result;
    }

    readonly record struct OverrideValue(double Value, string? Unit, string? Source, double? Low, double? High);

    static OverrideValue ParseOverride(JsonProperty p)
    {
        double Num(JsonElement e, string what)
        {
            if (e.ValueKind != JsonValueKind.Number) throw new FormatException($"cost '{p.Name}': {what} must be a number");
            double v = e.GetDouble();
            if (v < 0 || double.IsNaN(v) || double.IsInfinity(v)) throw new FormatException($"cost '{p.Name}': {what} must be non-negative");
            return v;
        }
        if (p.Value.ValueKind == JsonValueKind.Number) return new(Num(p.Value, "the value"), null, null, null, null);
        if (p.Value.ValueKind != JsonValueKind.Object || !p.Value.TryGetProperty("value", out var value))
            throw new FormatException($"cost '{p.Name}' must be a number or an object with a \"value\"");
        string? unit = p.Value.TryGetProperty("unit", out var u) ? u.GetString() : null;
        if (unit is not (null or "ns" or "cycles")) throw new FormatException($"cost '{p.Name}': unit must be ns or cycles");
        return new(Num(value, "the value"), unit, p.Value.TryGetProperty("source", out var s) ? s.GetString() : null,
            p.Value.TryGetProperty("low", out var lo) ? Num(lo, "low") : null, p.Value.TryGetProperty("high", out var hi) ? Num(hi, "high") : null);
    }

    /// <summary>This model with constant <paramref name="k"/> replaced.</summary>
    public CostModel With(CostConstant k, Cost c) => k switch
    {
        CostConstant.InvlpgPerPage => this with { InvlpgPerPage = c }, CostConstant.LocalFullFlush => this with { LocalFullFlush = c },
        CostConstant.GlobalFlush => this with { GlobalFlush = c }, CostConstant.PageWalk => this with { PageWalk = c },
        CostConstant.IpiInitiatorBase => this with { IpiInitiatorBase = c }, CostConstant.IpiInitiatorPerTarget => this with { IpiInitiatorPerTarget = c },
        CostConstant.IpiPerTarget => this with { IpiPerTarget = c }, CostConstant.Invlpgb => this with { Invlpgb = c },
        CostConstant.Zero4K => this with { Zero4K = c }, CostConstant.Copy4K => this with { Copy4K = c }, CostConstant.FileIoBase => this with { FileIoBase = c },
        CostConstant.TablePageAlloc => this with { TablePageAlloc = c }, CostConstant.AsiExit => this with { AsiExit = c },
        CostConstant.AsiEnter => this with { AsiEnter = c }, CostConstant.Ibpb => this with { Ibpb = c }, CostConstant.RsbStuff => this with { RsbStuff = c },
        CostConstant.L1dFlush => this with { L1dFlush = c }, CostConstant.Verw => this with { Verw = c },
        _ => throw new ArgumentOutOfRangeException(nameof(k)),
    };

    /// <summary>A plain number keeps the unit and is exact (no range); an object may change the unit and give a range.</summary>
    static Cost Override(Cost c, OverrideValue o)
    {
        string unit = o.Unit ?? c.Unit;
        double lo = o.Low ?? o.Value, hi = o.High ?? o.Value;
        return c with { Value = o.Value, Unit = unit, Source = o.Source ?? "override", Estimate = false, Low = Math.Min(lo, o.Value), High = Math.Max(hi, o.Value) };
    }
}
