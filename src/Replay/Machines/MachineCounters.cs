namespace AsiTrace.Replay.Machines;

/// <summary>Why an <c>asi_exit</c> happened: what the kernel touched outside the restricted map (docs/model.md, "ASI").</summary>
public enum ExitCause { PageCache, Zeroing, CopyOnWrite, ContextSwitch, Other }

/// <summary>
/// Event counts of one machine's replay (cumulative; the series samples them). Every policy has every counter, so every
/// policy reports every metric, with zeros where the policy never does the thing.
/// </summary>
public sealed class MachineCounters
{
    public static readonly int ExitCauses = Enum.GetValues<ExitCause>().Length;

    /// <summary>Requests the allocator model could not place.</summary>
    public long ModelFailures;
    /// <summary>Frees of pages this model does not hold allocated (or of a block not aligned to its order), refused.</summary>
    public long FreesOfPagesNotHeld;
    /// <summary>Compaction targets the model found no free page for (its free lists differ from the kernel's there).</summary>
    public long CompactionTargetsNotFound;
    /// <summary>Slab allocations placed at order 0 after their high-order attempt was refused (<c>allocate_slab()</c>).</summary>
    public long SlabRetriesAtOrder0;
    public long BytesZeroed;
    /// <summary>Pages cleared because their pageblock became nonsensitive.</summary>
    public long PagesZeroedForFlip;
    public readonly long[] AsiExits = new long[ExitCauses];
    /// <summary>Exits by the kind of kernel entry that paid them (<see cref="EntryKind"/>).</summary>
    public readonly long[] ExitsByEntry = new long[Enum.GetValues<EntryKind>().Length];
    public long PageblockFlipsToNonsensitive, PageblockFlipsToSensitive;
    /// <summary>Pageblocks removed from the direct map for <c>__GFP_UNMAPPED</c>, and returned to it.</summary>
    public long UnmappedPageblocks, UnmappedPageblocksReturned;
    /// <summary>Allocations removed from the direct map one by one (secretmem / guest_memfd today).</summary>
    public long PerAllocationUnmaps;
    public long MermapPages, MermapLocalFlushes, EphmapPages;
    public long FileCopies, FileCopyPages, CowCopies;
    /// <summary>What the trace's own <c>tlb_flush</c> events show.</summary>
    public long TracedIpisReceived, TracedIpisSent, TracedFullFlushes, TracedSinglePages;

    public long TotalAsiExits()
    {
        long n = 0;
        foreach (long v in AsiExits) n += v;
        return n;
    }
}
