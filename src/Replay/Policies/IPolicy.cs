using AsiTrace.Ingest.Canonical;
using AsiTrace.Replay.Asi;
using AsiTrace.Model.Alloc;
using AsiTrace.Model.Units;
using AsiTrace.Replay.Classify;
using AsiTrace.Replay.Machines;
using AsiTrace.Replay.Requests;

namespace AsiTrace.Replay.Policies;

/// <summary>
/// What the kernel does differently under one policy. The <see cref="Machine"/> owns the mechanisms (allocator, direct
/// maps, TLBs, cost ledger) and calls these hooks at the points where policies differ; each policy is one class, so
/// "where does policy X do Y" is answered by one file. docs/model.md describes every policy and the post it comes from.
/// <para>Hooks that reach memory call back through <see cref="Machine.Policy"/> (the outermost policy), so that a
/// wrapper such as <see cref="WithMermap"/> sees the zeroing and copies an inner policy asks for.</para>
/// </summary>
public interface IPolicy
{
    /// <summary>The name on the command line and in the results (<c>asi-rfc</c>, <c>asi-freetypes+mermap</c>, …).</summary>
    string Name { get; }

    /// <summary>ASI is on: the kernel runs in a restricted address space, kernel mappings are not global, and touching
    /// memory outside the restricted map costs an <c>asi_exit</c>.</summary>
    bool IsAsi { get; }

    /// <summary>The ASI runtime model (which activities leave the restricted space, what a transition costs); null
    /// without ASI.</summary>
    AsiRuntimeConfig? Runtime => null;

    /// <summary>The freetype layout of the buddy lists this policy's allocator uses.</summary>
    FreetypeLayout Layout { get; }

    /// <summary>Pageblocks' freetype flag at the start: <c>Flag</c> for all, or when <c>Fraction</c> ≥ 0 that share of them
    /// flagged (<see cref="InitialLayout"/>). <paramref name="traceSensitiveFraction"/> is the share of sensitive pages
    /// the pre-scan saw.</summary>
    (int Flag, double Fraction) InitialPageblocks(double traceSensitiveFraction) => (0, -1);

    /// <summary>Does the policy need the allocator model to place pages (it groups them by pageblock)? Then
    /// <c>--placement trace</c> cannot run it.</summary>
    bool NeedsModelPlacement => false;

    /// <summary>After the machine's maps are built, before the replay: set up the policy's initial mappings.</summary>
    void Start(Machine m) { }

    /// <summary>The freetype an allocation asks the allocator for.</summary>
    Freetype FreetypeFor(in AllocRequest r);

    /// <summary>ALLOC_* flags added to every attempt of this request (fast path included).</summary>
    AllocFlags AlwaysFlags(in AllocRequest r) => AllocFlags.None;

    /// <summary>The allocator placed <paramref name="r"/> at <paramref name="pfn"/> (<paramref name="pages"/> pages);
    /// <paramref name="zero"/>: the request has <c>__GFP_ZERO</c>.</summary>
    void OnAlloc(Machine m, in AllocRequest r, Pfn pfn, long pages, bool zero);

    /// <summary>The trace frees <paramref name="pages"/> pages at <paramref name="pfn"/>, allocated as
    /// <paramref name="cls"/> (null: before the trace). Returns true when the pages go back to the allocator now, false
    /// when the policy keeps them (deferred work frees them later).</summary>
    bool OnFree(Machine m, in FreeRequest r, Pfn pfn, long pages, Sensitivity? cls);

    /// <summary>A block of 2^<paramref name="order"/> pages at <paramref name="pfn"/> changed freetype to
    /// <paramref name="freetype"/>, during work on <paramref name="cpu"/>.</summary>
    void OnConvert(Machine m, int cpu, Pfn pfn, int order, Freetype freetype) { }

    /// <summary>The kernel clears <paramref name="pages"/> pages at <paramref name="pfn"/>; <paramref name="inRestricted"/>:
    /// they are mapped in the restricted map, so an ASI kernel can clear them without leaving it.</summary>
    void OnZero(Machine m, int cpu, Pfn pfn, long pages, bool inRestricted);

    /// <summary>The kernel copies a page into a new sensitive user page at <paramref name="pfn"/> (<c>wp_page_copy</c>).</summary>
    void OnCopyOnWrite(Machine m, int cpu, Pfn pfn);

    /// <summary>A page-cache page is filled (<c>mm_filemap_add_to_page_cache</c>).</summary>
    void OnPageCacheAccess(Machine m, int cpu, Pfn pfn, int pages);

    /// <summary>A read()/write() copies <paramref name="pages"/> pages between the page cache and user memory.</summary>
    void OnFileCopy(Machine m, int cpu, int pages);

    /// <summary>A <c>sched_switch</c> on <paramref name="e"/>'s CPU; <paramref name="mmChanges"/>: the CPU switches to
    /// another user address space.</summary>
    void OnContextSwitch(Machine m, in TraceEvent e, bool mmChanges) { }

    /// <summary>A kernel entry on <paramref name="cpu"/> (a system call or a page fault; <see cref="KernelEntries"/>);
    /// <paramref name="userTask"/>: a user task entered, not a kernel thread.</summary>
    void OnKernelEntry(Machine m, int cpu, bool userTask) { }

    /// <summary>Time-driven work. Called for the first event at or after the time the previous call returned; return
    /// <see cref="long.MaxValue"/> to never be called again.</summary>
    long OnTick(Machine m, in TraceEvent e) => long.MaxValue;

    /// <summary>The trace ended: finish queued work on <paramref name="cpu"/> (the CPU that ran last).</summary>
    void Finish(Machine m, int cpu) { }
}
