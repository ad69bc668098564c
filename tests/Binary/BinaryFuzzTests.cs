using AsiTrace.Ingest.Input;
using AsiTrace.Ingest.Pipeline;
using AsiTrace.Tests.Ingest;

namespace AsiTrace.Tests.Binary;

/// <summary>
/// The binary readers face untrusted files. Seeded mutations of the real samples — bit flips, truncation, size and
/// offset fields overwritten with huge, negative-looking or small values — must end either in events or in the
/// project's invalid-input exception, with bounded allocation; never another exception or a hang.
/// </summary>
public class BinaryFuzzTests
{
    [Theory]
    [InlineData("trace-cmd/v7-zstd.dat", 700)]
    [InlineData("trace-cmd/v6.dat.gz", 500)]
    [InlineData("perf/kmem.perf.data", 1000)]
    public void MutatedFilesFailCleanly(string sample, int cases)
    {
        byte[] original = File.ReadAllBytes(PeerExactnessTests.Materialize(TestPaths.Sample(sample)));
        var rng = new Random((int.TryParse(Environment.GetEnvironmentVariable("ASITRACE_FUZZ_SEED"), out int seed) ? seed : 20261123) ^ sample.Length);
        string dir = TestPaths.TempDir();
        int invalid = 0, read = 0;
        for (int i = 0; i < cases; i++)
        {
            byte[] data = Mutate(original, rng, out string how);
            string path = Path.Combine(dir, $"case{i % 8}.bin");
            File.WriteAllBytes(path, data);
            long before = GC.GetAllocatedBytesForCurrentThread();
            try
            {
                using var reader = TraceOpener.Open(path, new IngestOptions());
                ReadAll.Drain(reader);
                read++;
            }
            catch (InvalidTraceException e)
            {
                invalid++;
                Assert.Contains(path, e.Message);
            }
            catch (Exception e)
            {
                Assert.Fail($"case {i} ({how}) of {sample}: {e.GetType().Name}: {e.Message}\n{e.StackTrace}");
            }
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.True(allocated < 400L << 20, $"case {i} ({how}) allocated {allocated >> 20} MiB");
        }
        // Both outcomes must occur, or the mutations are not reaching the parser.
        Assert.True(invalid > cases / 20, $"only {invalid} of {cases} mutations were rejected");
        Assert.True(read > cases / 20, $"only {read} of {cases} mutations were readable");
    }

    static byte[] Mutate(byte[] original, Random rng, out string how)
    {
        var d = (byte[])original.Clone();
        // Structure lives at both ends (v6/perf headers and attrs at the start; v7 options/buffer sections and chunk
        // headers, perf features near the end): aim there two times in three.
        int Pos(int width)
        {
            int span = Math.Max(1, d.Length - width);
            return rng.Next(3) switch
            {
                0 => rng.Next(Math.Min(span, 8192)),
                1 => Math.Max(0, span - 1 - rng.Next(Math.Min(span, 65536))),
                _ => rng.Next(span),
            };
        }
        switch (rng.Next(4))
        {
            case 0:
                int flips = 1 + rng.Next(8);
                for (int k = 0; k < flips; k++) { int p = Pos(1); d[p] ^= (byte)(1 << rng.Next(8)); }
                how = $"{flips} bit flips";
                return d;
            case 1:
                int len = rng.Next(d.Length);
                how = $"truncated to {len}";
                return d[..len];
            case 2:
            {
                int p = Pos(8) & ~3;
                ulong[] values = [ulong.MaxValue, 0x7fffffff, 0xffffffff, 0x80000000, (ulong)d.Length, (ulong)d.Length + 1, 0, 1, 3, (ulong)rng.NextInt64()];
                ulong v = values[rng.Next(values.Length)];
                int width = rng.Next(2) == 0 ? 4 : 8;
                for (int k = 0; k < width && p + k < d.Length; k++) d[p + k] = (byte)(v >> (8 * k));
                how = $"{width}-byte field at {p} = 0x{v:x}";
                return d;
            }
            default:
            {
                int p = Pos(4);
                int n = 1 + rng.Next(64);
                for (int k = 0; k < n && p + k < d.Length; k++) d[p + k] = (byte)rng.Next(256);
                how = $"{n} random bytes at {p}";
                return d;
            }
        }
    }
}
