using System.Text;
using AsiTrace.Ingest;
using AsiTrace.Ingest.Input;
using AsiTrace.Ingest.Pipeline;
using AsiTrace.Ingest.Snapshot;
using AsiTrace.Replay;
using AsiTrace.Replay.Policies;

namespace AsiTrace.Tests.Hostile;

/// <summary>
/// Seeded mutation of whole inputs through the whole job (open, detect, decode, pre-scan, replay): text, CSV, events
/// Parquet, snapshot directories and command lines. Every run either succeeds or ends in the documented way (invalid
/// input; for the CLI, exit 0/2/3/4), in bounded memory; a hang fails the test at its generous timeout. The binary
/// readers have their own campaign (BinaryFuzzTests).
/// </summary>
public class PipelineFuzzTests
{
    const int Seed = 20261204;

    static byte[] Mutate(byte[] data, Random rng, int edits)
    {
        var b = (byte[])data.Clone();
        byte[] alphabet = Encoding.ASCII.GetBytes(" -[]():=|.,0123456789abcdefxGFP_\t#\n\0\xff");
        var list = b.ToList();
        for (int k = 0; k < edits && list.Count > 0; k++)
        {
            int pos = rng.Next(list.Count);
            switch (rng.Next(5))
            {
                case 0: list[pos] = alphabet[rng.Next(alphabet.Length)]; break;
                case 1: list.RemoveRange(pos, Math.Min(rng.Next(1, 64), list.Count - pos)); break;
                case 2: list.Insert(pos, alphabet[rng.Next(alphabet.Length)]); break;
                case 3: list[pos] = (byte)rng.Next(256); break;
                default: list.InsertRange(pos, Encoding.ASCII.GetBytes(rng.Next(4) switch { 0 => "18446744073709551615", 1 => "-1", 2 => "0x7fffffffffffffff", _ => "99999999999" })); break;
            }
        }
        return list.ToArray();
    }

    static PolicySpec Policy(string name) { Assert.True(PolicySpec.TryParse(name, out var s)); return s; }

    /// <summary>Replays <paramref name="path"/> under two policies; only invalid input may escape.</summary>
    static void ReplayOrRefuse(string path, string? snapshotDir = null)
    {
        MachineSnapshot? start = null, end = null;
        try
        {
            if (snapshotDir is not null)
            {
                start = MachineSnapshot.Load(Path.Combine(snapshotDir, "snapshot-start"));
                end = MachineSnapshot.Load(Path.Combine(snapshotDir, "snapshot-end"));
            }
            long before = GC.GetTotalAllocatedBytes(precise: false);
            ReplayRunner.Run(() => TraceOpener.Open(path, new IngestOptions()), new ReplayOptions
            {
                StartSnapshot = start, EndSnapshot = end,
                Policies = [Policy("noasi"), Policy("asi-rfc")], IntervalNs = 100_000_000,
            });
            Assert.True(GC.GetTotalAllocatedBytes(precise: false) - before < 2L << 30, $"{path}: more than 2 GB allocated");
        }
        catch (InvalidTraceException) { }
    }

    [Fact]
    public void MutatedTextTracesReplayOrAreRefused()
    {
        var rng = new Random(Seed);
        var text = File.ReadAllBytes(TestPaths.Sample("dd-cat/trace.txt"));
        var dir = TestPaths.TempDir();
        for (int round = 0; round < 40; round++)
        {
            var path = Path.Combine(dir, $"t{round}.txt");
            File.WriteAllBytes(path, Mutate(text, rng, rng.Next(1, 200)));
            ReplayOrRefuse(path);
        }
    }

    [Fact]
    public void MutatedCsvAndEventsParquetReplayOrAreRefused()
    {
        var rng = new Random(Seed + 1);
        var dir = TestPaths.TempDir();
        string csv = Path.Combine(dir, "e.csv"), parquet = Path.Combine(dir, "e.parquet");
        Assert.Equal(0, Cli.CliTests.Run("ingest", TestPaths.Sample("dd-cat/trace.txt"), "-o", csv).Code);
        Assert.Equal(0, Cli.CliTests.Run("ingest", TestPaths.Sample("dd-cat/trace.txt"), "-o", parquet).Code);
        var csvBytes = File.ReadAllBytes(csv);
        var pqBytes = File.ReadAllBytes(parquet);
        for (int round = 0; round < 40; round++)
        {
            var c = Path.Combine(dir, $"m{round}.csv");
            File.WriteAllBytes(c, Mutate(csvBytes, rng, rng.Next(1, 100)));
            ReplayOrRefuse(c);
            var p = Path.Combine(dir, $"m{round}.parquet");
            var bytes = (byte[])pqBytes.Clone();
            // Bytes flipped in place keep the footer findable, so the damage reaches pages, schema and metadata.
            for (int k = rng.Next(1, 20); k > 0; k--) bytes[rng.Next(bytes.Length)] = (byte)rng.Next(256);
            File.WriteAllBytes(p, bytes);
            ReplayOrRefuse(p);
        }
    }

    [Fact]
    public void MutatedSnapshotsReplayOrAreRefused()
    {
        var rng = new Random(Seed + 2);
        var src = TestPaths.Sample("dd-cat");
        string[] files = ["zoneinfo", "pagetypeinfo", "buddyinfo", "iomem", "nproc", "meminfo", "uname", "kmem.mm_page_alloc.format"];
        for (int round = 0; round < 24; round++)
        {
            var dir = TestPaths.TempDir();
            foreach (var f in Directory.GetFiles(src, "*", SearchOption.AllDirectories))
            {
                var to = Path.Combine(dir, Path.GetRelativePath(src, f));
                Directory.CreateDirectory(Path.GetDirectoryName(to)!);
                File.Copy(f, to);
            }
            var victim = Path.Combine(dir, rng.Next(2) == 0 ? "snapshot-start" : "snapshot-end", files[rng.Next(files.Length)]);
            File.WriteAllBytes(victim, Mutate(File.ReadAllBytes(victim), rng, rng.Next(1, 40)));
            ReplayOrRefuse(Path.Combine(dir, "trace.txt"), dir);
        }
    }

    [Fact]
    public void RandomCommandLinesEndInDocumentedCodes()
    {
        var rng = new Random(Seed + 3);
        string sample = TestPaths.Sample("dd-cat/trace.txt");
        string[] commands = ["stats", "ingest", "replay", "report", "compare", "synth", "analyze"];
        string[] options = ["--policy", "--interval", "--knob", "--cost", "--cpus", "--max-ram", "--classify", "--format", "--format-dir", "--window", "--placement", "-o", "--json", "--snapshot"];
        string[] values = ["", "0", "-1", "1e400", "NaN", "99999999999999999999s", "noasi,,", "MermapWindowPages=0", "Zero4K=-5", "a=b=c",
            "comm=x:unmapped", "1T", "/nonexistent", "trace", "ftrace", "8193", ",", "\u00e9\u00e9", "--", "1s..0s"];
        for (int round = 0; round < 24; round++)
        {
            var dir = TestPaths.TempDir();
            var args = new List<string> { commands[rng.Next(commands.Length)], rng.Next(4) == 0 ? values[rng.Next(values.Length)] : sample };
            for (int k = rng.Next(0, 4); k > 0; k--)
            {
                var o = options[rng.Next(options.Length)];
                args.Add(o);
                if (o != "--json") args.Add(o == "-o" && rng.Next(2) == 0 ? Path.Combine(dir, "out") : values[rng.Next(values.Length)]);
            }
            var (code, _, err) = Cli.CliTests.Run(args.ToArray());
            Assert.True(code is 0 or 2 or 3 or 4, $"asitrace {string.Join(' ', args)} -> {code}: {err}");
            Assert.DoesNotContain("   at ", err);
        }
    }
}
