using AsiTrace.Replay.Policies;

namespace AsiTrace.Replay.Asi;

/// <summary>
/// The ASI runtime model of one published configuration (docs/model.md §6): which kernel activities leave the
/// restricted address space, and what each transition costs (the mitigations run on it). It is separate from the
/// allocator and MMU design, so two policies with the same runtime differ only in what their page allocators do.
/// Every feature can be switched on its own with a knob (<see cref="PolicyKnobs"/>); a knob left unset keeps the
/// configuration's own value.
/// </summary>
/// <param name="Name">the configuration, as the results name it.</param>
/// <param name="ExitOnEveryContextSwitch">RFC v2: <c>context_switch()</c> exits every time; otherwise only when the
/// address space (mm) changes, as Google's internal version does.</param>
/// <param name="Ibpb">IBPB on every exit ("control" flush).</param>
/// <param name="RsbStuff">RSB stuffing on every exit.</param>
/// <param name="L1dFlush">L1D flush before returning to the restricted space ("data" flush).</param>
/// <param name="Verw">VERW buffer clearing before returning to the restricted space.</param>
/// <param name="FlushOnTransition">the CR3 no-flush bit is cleared, so every exit and enter flushes the TLB (the Aug
/// 2025 prototype did; PCID no-flush transitions do not).</param>
/// <param name="PageCacheThroughEphmap">page-cache reads and writes map the page through a CPU-local ephemeral
/// mapping instead of exiting (the Aug 2025 ephmap: one mapping at a time, so copy-on-write still exits).</param>
public sealed record AsiRuntimeConfig(string Name, bool ExitOnEveryContextSwitch, bool Ibpb, bool RsbStuff, bool L1dFlush, bool Verw,
    bool FlushOnTransition, bool PageCacheThroughEphmap)
{
    /// <summary>ASI RFC v2 (Jan 2025): IBPB and RSB stuffing hard-coded on every <c>asi_exit</c>, an exit on every
    /// context switch, the page cache unmapped (every copy to or from it exits), PCID no-flush transitions.</summary>
    public static readonly AsiRuntimeConfig RfcV2 = new("rfc-v2", ExitOnEveryContextSwitch: true, Ibpb: true, RsbStuff: true,
        L1dFlush: false, Verw: false, FlushOnTransition: false, PageCacheThroughEphmap: false);

    /// <summary>The Aug 2025 "ASI is fast again" prototype (branch asi/6.16): the ephmap for page-cache reads; exits
    /// on every context switch, on zeroing and on copy-on-write; IBPB on exit (retbleed mitigation selected); and the
    /// TLB flushed on every transition because the prototype clears the CR3 no-flush bit.</summary>
    public static readonly AsiRuntimeConfig Aug2025 = new("aug2025-prototype", ExitOnEveryContextSwitch: true, Ibpb: true, RsbStuff: false,
        L1dFlush: false, Verw: false, FlushOnTransition: true, PageCacheThroughEphmap: true);

    /// <summary>This configuration with every knob the user set applied.</summary>
    public AsiRuntimeConfig With(PolicyKnobs k) => this with
    {
        ExitOnEveryContextSwitch = k.ExitOnEveryContextSwitch ?? ExitOnEveryContextSwitch,
        Ibpb = k.Ibpb ?? Ibpb,
        RsbStuff = k.RsbStuff ?? RsbStuff,
        L1dFlush = k.L1dFlush ?? L1dFlush,
        Verw = k.Verw ?? Verw,
        FlushOnTransition = k.FlushOnTransition ?? FlushOnTransition,
        PageCacheThroughEphmap = k.Ephmap ?? PageCacheThroughEphmap,
    };
}
