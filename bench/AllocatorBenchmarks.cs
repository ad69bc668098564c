using AsiTrace.Ingest.Pipeline;
using AsiTrace.Ingest.Snapshot;
using AsiTrace.Model.Alloc;
using AsiTrace.Replay;
using BenchmarkDotNet.Attributes;

namespace AsiTrace.Bench;

/// <summary>
/// Page-allocator speed: requests through the full node model (zonelist, watermarks, pcp lists, buddy) on one
/// core, and the whole noasi replay (pre-scan, reconstruction, model) of the real churn sample. Requests/s = Requests /
/// mean for the first; events/s = 368,148 / mean for the second.
/// </summary>
public class AllocatorBenchmarks
{
    public const int Requests = 2_000_000;
    (bool Alloc, int Cpu, int Order, int Mt, int Slot)[] _stream = [];
    long[] _pfns = [];
    string _churn = "";

    [GlobalSetup]
    public void Setup()
    {
        // A stream shaped like the churn trace: 97 % order 0 (mostly movable), some order 1–3 and 9, LIFO-ish lifetimes
        // with a long tail, two CPUs, every allocation freed eventually.
        var rng = new Random(7);
        var list = new List<(bool, int, int, int, int)>(Requests);
        var live = new List<int>();
        int slots = 0;
        while (list.Count < Requests)
        {
            if (live.Count > 0 && (rng.Next(100) < 48 || live.Count > 200_000))
            {
                int i = rng.Next(10) < 8 ? live.Count - 1 - rng.Next(Math.Min(live.Count, 64)) : rng.Next(live.Count);
                int slot = live[i];
                live[i] = live[^1]; live.RemoveAt(live.Count - 1);
                list.Add((false, rng.Next(2), 0, 0, slot));
            }
            else
            {
                int r = rng.Next(1000);
                int order = r < 970 ? 0 : r < 985 ? 1 + rng.Next(3) : r < 998 ? 4 : 9;
                int mt = rng.Next(10) < 8 ? Migratetype.Movable : rng.Next(10) < 7 ? Migratetype.Unmovable : Migratetype.Reclaimable;
                list.Add((true, rng.Next(2), order, mt, slots));
                live.Add(slots++);
            }
        }
        _stream = list.ToArray();
        _pfns = new long[slots];
        _orders = new int[slots];
        foreach (var (alloc, _, order, _, slot) in _stream) if (alloc) _orders[slot] = order;
        _churn = Path.Combine(FindRoot(), "sample-traces", "churn");
    }

    static string FindRoot()
    {
        var d = new DirectoryInfo(AppContext.BaseDirectory);
        while (d is not null && !File.Exists(Path.Combine(d.FullName, "AsiTrace.sln"))) d = d.Parent;
        return d?.FullName ?? throw new InvalidOperationException("run from inside the repository");
    }

    static PageAllocator Node()
    {
        var spec = new ZoneSpec
        {
            Name = "Normal", Index = ZoneIndex.Normal, StartPfn = 1L << 20, SpannedPages = 4L << 20, ManagedPages = 4L << 20,
            Watermarks = new Watermarks(10_000, 12_500, 15_000, 15_000), Protection = [0, 0, 0, 0], FreeAllUnblocked = true,
            Pcp = [new PcpSpec(0, 0, 6066, 63, 6066, 65536), new PcpSpec(1, 0, 6066, 63, 6066, 65536)],
        };
        var z = InitialLayout.Build(spec, new BuddyOptions())!;
        z.Zone.RecordEvents = false;
        return new PageAllocator([z], 2);
    }

    [Benchmark(Description = "node model: alloc/free requests (pcp + buddy), 1 thread", OperationsPerInvoke = Requests)]
    public long Requests2M()
    {
        var a = Node();
        long sum = 0;
        foreach (var (alloc, cpu, order, mt, slot) in _stream)
        {
            if (alloc) { long p = a.Alloc(cpu, order, ZoneIndex.Normal, Freetype.OfMigratetype(mt)); _pfns[slot] = p; sum += p; }
            else
            {
                long p = _pfns[slot];
                if (p >= 0) a.Free(cpu, p, _orders[slot]);
            }
        }
        return sum;
    }

    int[] _orders = [];

    [Benchmark(Description = "replay noasi: churn sample (368 k events, 2 passes, zstd text)")]
    public long ReplayChurn()
    {
        var r = ReplayRunner.Run(() => TraceOpener.Open(_churn, new IngestOptions()), new ReplayOptions
        {
            StartSnapshot = MachineSnapshot.Load(Path.Combine(_churn, "snapshot-start")),
            EndSnapshot = MachineSnapshot.Load(Path.Combine(_churn, "snapshot-end")),
        });
        return r.Events;
    }
}
