namespace AsiTrace.Model.Paging;

/// <summary>
/// The mermap's per-CPU bump allocator of virtual pages (the Mar 2026 <c>__GFP_UNMAPPED</c> series; the Aug 2025 ephmap
/// before it; docs/model.md, "mermap"). <c>mermap_get()</c> takes fresh pages from the CPU's 2 MiB window, so each use
/// misses the TLB once per page; when the window is used up the pointer resets and the CPU flushes its own TLB (no IPIs,
/// because the window is CPU-local).
/// </summary>
public sealed class Mermap(int cpus, int windowPages)
{
    readonly int[] _next = new int[Math.Max(cpus, 1)];

    public int WindowPages => windowPages;

    /// <summary>Maps <paramref name="pages"/> pages on <paramref name="cpu"/>; returns the local flushes it needed.</summary>
    public int Get(int cpu, int pages)
    {
        cpu %= _next.Length;
        int flushes = 0;
        while (pages > 0)
        {
            int take = Math.Min(pages, windowPages);
            if (_next[cpu] + take > windowPages) { _next[cpu] = 0; flushes++; }
            _next[cpu] += take;
            pages -= take;
        }
        return flushes;
    }
}
