using System.Text;
using AsiTrace.Ingest.Canonical;
using Xunit;

namespace AsiTrace.Tests.Ingest;

/// <summary>Gfp values printed back as the kernel printed them: every distinct gfp_flags text of real traces of 6.1,
/// 6.12 and 6.18 decodes and renders to the same text through the flag table of the recording's own format file (the
/// kernel's <c>__def_gfpflag_names</c>, in its order).</summary>
public class GfpKernelStyleTests
{
    [Theory]
    [InlineData("churn")]
    [InlineData("corpus/h618-compile")]
    [InlineData("qemu-6.1")]
    [InlineData("corpus/q61-pressure-2cpu")]
    [InlineData("corpus/q612-pressure-4cpu")]
    public void every_printed_gfp_text_renders_back_exactly(string recording)
    {
        var format = AsiTrace.Ingest.Formats.EventFormat.Parse(File.ReadAllText(TestPaths.Sample(Path.Combine(recording, "snapshot-start", "kmem.mm_page_alloc.format"))), "kmem");
        var entries = AsiTrace.Ingest.Formats.PrintFmtTables.Find(format.PrintFmt, "__print_flags", "gfp_flags")!;
        var table = new GfpTable("format", entries.ConvertAll(x => (x.Name, x.Value)));
        string sample = Path.Combine(recording, "trace.txt.zst");
        var texts = new HashSet<string>(StringComparer.Ordinal);
        foreach (var line in ReadAll.Lines(TestPaths.Sample(sample)))
        {
            int at = line.AsSpan().IndexOf("gfp_flags="u8);
            if (at < 0) continue;
            var rest = line.AsSpan(at + "gfp_flags=".Length);
            int end = rest.IndexOf((byte)' ');
            texts.Add(Encoding.ASCII.GetString(end < 0 ? rest : rest[..end]));
        }
        Assert.True(texts.Count >= 5, $"{texts.Count} distinct gfp texts");
        foreach (var text in texts)
        {
            Assert.True(table.TryDecodeText(Encoding.ASCII.GetBytes(text), out ulong canonical), text);
            Assert.Equal(text, table.FormatKernelStyle(canonical));
        }
    }
}
