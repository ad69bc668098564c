using System.Globalization;
using AsiTrace.Ingest.Input;

namespace AsiTrace.Ingest.Snapshot;

/// <summary>
/// Parsers for the <c>/proc</c> files a recording snapshots (docs/model.md §8.1: the model's starting state).
/// Each takes the file's text and its name; a line that does not parse is an <see cref="InvalidTraceException"/>
/// naming the file and line, never a silent default.
/// </summary>
public static class SnapshotParsers
{
    static long Num(string s, string file, int line) =>
        long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long v) ? v
            : throw new InvalidTraceException(file, $"line {line}", $"expected a number, found '{s}'");

    static string[] Words(string line) => line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);

    /// <summary><c>/proc/meminfo</c>: name → value in kB (or a plain count for the HugePages_* lines).</summary>
    /// <summary>
    /// <c>/proc/stat</c>'s aggregate <c>cpu</c> line: the time all CPUs spent busy since boot, in USER_HZ ticks (user,
    /// nice, system, irq, softirq and steal; guest time is already inside user). Idle and iowait are not busy.
    /// </summary>
    public static long StatBusyTicks(string text, string file = "stat")
    {
        int n = 0;
        foreach (var line in text.Split('\n'))
        {
            n++;
            if (!line.StartsWith("cpu ", StringComparison.Ordinal)) continue;
            var w = Words(line);
            if (w.Length < 5) throw new InvalidTraceException(file, $"line {n}", "expected 'cpu user nice system idle …'");
            long busy = 0;
            // Columns: user nice system idle iowait irq softirq steal guest guest_nice.
            int[] busyColumns = [1, 2, 3, 6, 7, 8];
            foreach (int c in busyColumns) if (c < w.Length) busy += Num(w[c], file, n);
            return busy;
        }
        throw new InvalidTraceException(file, "line 1", "no aggregate 'cpu' line");
    }

    public static Dictionary<string, long> Meminfo(string text, string file = "meminfo")
    {
        var d = new Dictionary<string, long>(StringComparer.Ordinal);
        int n = 0;
        foreach (var line in text.Split('\n'))
        {
            n++;
            if (line.Length == 0) continue;
            int colon = line.IndexOf(':');
            if (colon <= 0) throw new InvalidTraceException(file, $"line {n}", "expected 'Name: value [kB]'");
            var w = Words(line[(colon + 1)..]);
            if (w.Length == 0) throw new InvalidTraceException(file, $"line {n}", "no value");
            d[line[..colon]] = Num(w[0], file, n);
        }
        return d;
    }

    /// <summary><c>/proc/iomem</c> (as root: with real addresses). Zeroed addresses (read without root) are an error.</summary>
    public static List<IomemRange> Iomem(string text, string file = "iomem")
    {
        var list = new List<IomemRange>();
        int n = 0;
        foreach (var line in text.Split('\n'))
        {
            n++;
            if (line.Trim().Length == 0) continue;
            int depth = 0;
            while (depth < line.Length && line[depth] == ' ') depth++;
            int colon = line.IndexOf(" : ", StringComparison.Ordinal);
            int dash = line.IndexOf('-', depth);
            if (colon < 0 || dash < 0 || dash > colon) throw new InvalidTraceException(file, $"line {n}", "expected 'start-end : name'");
            if (!ulong.TryParse(line.AsSpan(depth, dash - depth), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out ulong start)
                || !ulong.TryParse(line.AsSpan(dash + 1, colon - dash - 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out ulong end))
                throw new InvalidTraceException(file, $"line {n}", "addresses are not hex");
            list.Add(new IomemRange(start, end + 1, line[(colon + 3)..].TrimEnd('\r'), depth / 2));
        }
        if (list.Count > 0 && list.TrueForAll(r => r.Start == 0 && r.EndExclusive == 1))
            throw new InvalidTraceException(file, "line 1", "all addresses are zero: /proc/iomem was read without root");
        return list;
    }

    /// <summary>The top-level "System RAM" ranges of iomem: the memory the direct map covers.</summary>
    public static List<(ulong Start, ulong EndExclusive)> SystemRam(IEnumerable<IomemRange> iomem)
    {
        var l = new List<(ulong, ulong)>();
        foreach (var r in iomem) if (r.Depth == 0 && r.Name == "System RAM") l.Add((r.Start, r.EndExclusive));
        return l;
    }

    /// <summary><c>/proc/buddyinfo</c>: <c>Node 0, zone   Normal  n0 n1 … n10</c>.</summary>
    public static List<BuddyinfoZone> Buddyinfo(string text, string file = "buddyinfo")
    {
        var list = new List<BuddyinfoZone>();
        int n = 0;
        foreach (var line in text.Split('\n'))
        {
            n++;
            if (line.Trim().Length == 0) continue;
            var w = Words(line.Replace(",", " "));
            if (w.Length < 5 || w[0] != "Node" || w[2] != "zone") throw new InvalidTraceException(file, $"line {n}", "expected 'Node N, zone NAME counts…'");
            var counts = new long[w.Length - 4];
            for (int i = 0; i < counts.Length; i++) counts[i] = Num(w[4 + i], file, n);
            list.Add(new BuddyinfoZone((int)Num(w[1], file, n), w[3], counts));
        }
        return list;
    }

    /// <summary><c>/proc/pagetypeinfo</c> (root only): pageblock order, free blocks per migratetype, blocks per type.</summary>
    public static PagetypeInfo Pagetypeinfo(string text, string file = "pagetypeinfo")
    {
        var p = new PagetypeInfo();
        string[]? blockTypes = null;
        int n = 0;
        foreach (var raw in text.Split('\n'))
        {
            n++;
            var line = raw.TrimEnd('\r');
            if (line.Trim().Length == 0) continue;
            if (line.StartsWith("Page block order:", StringComparison.Ordinal)) { p.PageblockOrder = (int)Num(line[17..].Trim(), file, n); continue; }
            if (line.StartsWith("Pages per block:", StringComparison.Ordinal)) { p.PagesPerBlock = (int)Num(line[16..].Trim(), file, n); continue; }
            if (line.StartsWith("Free pages count", StringComparison.Ordinal)) continue;
            if (line.StartsWith("Number of blocks type", StringComparison.Ordinal)) { blockTypes = Words(line[21..]); continue; }
            if (!line.StartsWith("Node", StringComparison.Ordinal)) continue; // "Number of mixed blocks", future additions
            int typeAt = line.IndexOf(", type ", StringComparison.Ordinal);
            var w = Words(line.Replace(",", " "));
            if (w.Length < 4 || w[2] != "zone") throw new InvalidTraceException(file, $"line {n}", "expected 'Node N, zone NAME …'");
            int node = (int)Num(w[1], file, n);
            string zone = w[3];
            if (typeAt >= 0)
            {
                // Node 0, zone Normal, type Unmovable  c0 … c10
                var rest = Words(line[(typeAt + 7)..]);
                var counts = new long[rest.Length - 1];
                for (int i = 0; i < counts.Length; i++) counts[i] = Num(rest[1 + i], file, n);
                p.Free.Add((node, zone, rest[0], counts));
            }
            else
            {
                if (blockTypes is null) throw new InvalidTraceException(file, $"line {n}", "block counts before their header");
                var d = new Dictionary<string, long>(StringComparer.Ordinal);
                for (int i = 0; i < blockTypes.Length && 4 + i < w.Length; i++) d[blockTypes[i]] = Num(w[4 + i], file, n);
                p.Blocks.Add((node, zone, d));
            }
        }
        if (p.PageblockOrder < 0) throw new InvalidTraceException(file, "line 1", "no 'Page block order:' line (the file is readable only by root)");
        return p;
    }

    /// <summary><c>/proc/zoneinfo</c>: per zone, its page counters, watermarks, protection and pcp lists.</summary>
    public static List<ZoneInfo> Zoneinfo(string text, string file = "zoneinfo")
    {
        var zones = new List<ZoneInfo>();
        ZoneInfo? z = null;
        int cpu = -1; long count = 0, high = 0, batch = 0; long? highMin = null, highMax = null;
        bool inPcp = false;
        void FlushPcp()
        {
            if (z is not null && cpu >= 0) z.Pagesets.Add(new PcpInfo(cpu, count, high, batch, highMin, highMax));
            cpu = -1; highMin = highMax = null;
        }
        int n = 0;
        foreach (var raw in text.Split('\n'))
        {
            n++;
            var line = raw.TrimEnd('\r');
            var t = line.Trim();
            if (t.Length == 0) continue;
            if (line.StartsWith("Node ", StringComparison.Ordinal))
            {
                FlushPcp();
                inPcp = false;
                var w = Words(line.Replace(",", " "));
                if (w.Length < 4 || w[2] != "zone") throw new InvalidTraceException(file, $"line {n}", "expected 'Node N, zone NAME'");
                z = new ZoneInfo { Node = (int)Num(w[1], file, n), Name = w[3] };
                zones.Add(z);
                continue;
            }
            if (z is null) continue;
            if (t == "pagesets") { inPcp = true; continue; }
            if (t.StartsWith("protection:", StringComparison.Ordinal))
            {
                var inner = t[11..].Trim().Trim('(', ')');
                z.Protection = Array.ConvertAll(inner.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries), s => Num(s, file, n));
                continue;
            }
            var kv = Words(t.Replace(":", " "));
            if (kv.Length < 2) continue;
            string key = kv[0] == "pages" && kv.Length >= 3 ? kv[1] : kv[0];
            string val = kv[0] == "pages" && kv.Length >= 3 ? kv[2] : kv[1];
            if (inPcp)
            {
                switch (key)
                {
                    case "cpu": FlushPcp(); cpu = (int)Num(val, file, n); continue;
                    case "count": count = Num(val, file, n); continue;
                    case "high": high = Num(val, file, n); continue;
                    case "batch": batch = Num(val, file, n); continue;
                    case "high_min": highMin = Num(val, file, n); continue;
                    case "high_max": highMax = Num(val, file, n); continue;
                    case "vm": continue; // "vm stats threshold: N"
                    case "node_unreclaimable": FlushPcp(); inPcp = false; continue;
                    case "start_pfn": FlushPcp(); inPcp = false; z.StartPfn = Num(val, file, n); continue;
                }
                continue;
            }
            switch (key)
            {
                case "free": if (kv[0] == "pages") z.Free = Num(val, file, n); break;
                case "boost": z.Boost = Num(val, file, n); break;
                case "min": z.Min = Num(val, file, n); break;
                case "low": z.Low = Num(val, file, n); break;
                case "high": z.High = Num(val, file, n); break;
                case "promo": z.Promo = Num(val, file, n); break;
                case "spanned": z.Spanned = Num(val, file, n); break;
                case "present": z.Present = Num(val, file, n); break;
                case "managed": z.Managed = Num(val, file, n); break;
                case "cma": z.Cma = Num(val, file, n); break;
                case "start_pfn": z.StartPfn = Num(val, file, n); break;
            }
        }
        FlushPcp();
        return zones;
    }
}
