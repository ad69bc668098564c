namespace AsiTrace.Ingest.Snapshot;

/// <summary>
/// A machine's state as a recording saved it (<c>snapshot-start/</c>, <c>snapshot-end/</c>): the files the model starts
/// from. Every part is optional — a snapshot made without root lacks pagetypeinfo and iomem — and what is missing is
/// listed in <see cref="Missing"/> so a replay can say what it had to assume.
/// </summary>
public sealed class MachineSnapshot
{
    public string Directory { get; init; } = "";
    public Dictionary<string, long>? Meminfo { get; private set; }
    public List<IomemRange>? Iomem { get; private set; }
    public List<BuddyinfoZone>? Buddyinfo { get; private set; }
    public PagetypeInfo? Pagetypeinfo { get; private set; }
    public List<ZoneInfo>? Zoneinfo { get; private set; }
    public Dictionary<string, long>? Vmstat { get; private set; }
    public string? KernelRelease { get; private set; }
    public int? Cpus { get; private set; }
    /// <summary>Flags of the first processor in cpuinfo (pse, pdpe1gb, la57, pcid, invpcid, …).</summary>
    public HashSet<string> CpuFlags { get; } = new(StringComparer.Ordinal);
    public string? CpuModel { get; private set; }
    /// <summary>Busy time of all CPUs since boot from <c>/proc/stat</c>, in USER_HZ ticks (<see cref="UserHz"/>).</summary>
    public long? StatBusyTicks { get; private set; }
    /// <summary>USER_HZ, the unit of <c>/proc/stat</c>: 100 on every architecture Linux exports it for.</summary>
    public const int UserHz = 100;
    public List<string> Missing { get; } = new();

    /// <summary>Reads what is there; a file that exists but does not parse is an error naming it.</summary>
    public static MachineSnapshot Load(string dir)
    {
        var s = new MachineSnapshot { Directory = dir };
        string? Read(string name)
        {
            string p = Path.Combine(dir, name);
            if (File.Exists(p)) return File.ReadAllText(p);
            s.Missing.Add(name);
            return null;
        }
        if (Read("meminfo") is { } mi) s.Meminfo = SnapshotParsers.Meminfo(mi, Path.Combine(dir, "meminfo"));
        if (Read("iomem") is { } io) s.Iomem = SnapshotParsers.Iomem(io, Path.Combine(dir, "iomem"));
        if (Read("buddyinfo") is { } bi) s.Buddyinfo = SnapshotParsers.Buddyinfo(bi, Path.Combine(dir, "buddyinfo"));
        if (Read("pagetypeinfo") is { } pt) s.Pagetypeinfo = SnapshotParsers.Pagetypeinfo(pt, Path.Combine(dir, "pagetypeinfo"));
        if (Read("zoneinfo") is { } zi) s.Zoneinfo = SnapshotParsers.Zoneinfo(zi, Path.Combine(dir, "zoneinfo"));
        if (Read("vmstat") is { } vm)
        {
            var d = new Dictionary<string, long>(StringComparer.Ordinal);
            foreach (var line in vm.Split('\n'))
            {
                var w = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (w.Length == 2 && long.TryParse(w[1], out long v)) d[w[0]] = v;
            }
            s.Vmstat = d;
        }
        if (Read("stat") is { } st) s.StatBusyTicks = SnapshotParsers.StatBusyTicks(st, Path.Combine(dir, "stat"));
        if (Read("uname") is { } un) s.KernelRelease = Binary.PidComms.ReleaseFromUname(un.Trim());
        if (Read("nproc") is { } np && int.TryParse(np.Trim(), out int cpus)) s.Cpus = cpus;
        if (Read("cpuinfo") is { } ci)
        {
            foreach (var line in ci.Split('\n'))
            {
                if (s.CpuModel is null && line.StartsWith("model name", StringComparison.Ordinal)) s.CpuModel = line[(line.IndexOf(':') + 1)..].Trim();
                if (line.StartsWith("flags", StringComparison.Ordinal))
                {
                    foreach (var f in line[(line.IndexOf(':') + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries)) s.CpuFlags.Add(f);
                    break;
                }
            }
        }
        return s;
    }
}
