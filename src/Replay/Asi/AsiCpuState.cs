namespace AsiTrace.Replay.Asi;

/// <summary>
/// Which address space each CPU runs the kernel in (docs/model.md §6.1). A kernel entry of a user task starts
/// restricted (the task returned to user space through <c>asi_enter()</c>); the first touch of memory the restricted map
/// lacks takes one <c>asi_exit()</c>, after which the CPU stays unrestricted until the next entry — so there is at most
/// one exit per entry. Kernel threads have no restricted address space: they run unrestricted and never exit.
/// </summary>
public sealed class AsiCpuState(int cpus)
{
    readonly bool[] _restricted = new bool[Math.Max(cpus, 1)];

    public bool IsRestricted(int cpu) => _restricted[(uint)cpu % (uint)_restricted.Length];

    /// <summary>A kernel entry on <paramref name="cpu"/>: restricted when a user task entered.</summary>
    public void Enter(int cpu, bool userTask) => _restricted[(uint)cpu % (uint)_restricted.Length] = userTask;

    /// <summary>The kernel on <paramref name="cpu"/> needs the unrestricted address space: true when that costs an
    /// <c>asi_exit()</c> (the CPU was restricted), false when it already runs unrestricted.</summary>
    public bool Leave(int cpu)
    {
        ref bool r = ref _restricted[(uint)cpu % (uint)_restricted.Length];
        if (!r) return false;
        r = false;
        return true;
    }
}
