using System.Text.RegularExpressions;

namespace AsiTrace.Tests;

/// <summary>Layering rules of design.md, checked by scanning the source (after ScottPlot's architecture tests).</summary>
public class ArchitectureTests
{
    static IEnumerable<string> Sources(string project) =>
        Directory.EnumerateFiles(Path.Combine(TestPaths.RepoRoot, "src", project), "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains("/obj/") && !f.Contains("/bin/"));

    [Fact]
    public void ModelHasNoIoNoConsoleNoClock()
    {
        foreach (var f in Sources("Model"))
        {
            var text = File.ReadAllText(f);
            Assert.DoesNotMatch(new Regex(@"\b(System\.IO|File\.|Console\.|DateTime\.Now|Stopwatch)\b"), text);
        }
        var proj = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "src/Model/Model.csproj"));
        Assert.DoesNotContain("ProjectReference", proj);
    }

    [Fact]
    public void IngestKnowsNothingOfTheModelOrReplay()
    {
        var proj = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "src/Ingest/Ingest.csproj"));
        Assert.DoesNotContain("ProjectReference", proj);
        foreach (var f in Sources("Ingest"))
            Assert.DoesNotMatch(new Regex(@"using AsiTrace\.(Model|Replay|Report|Cli)"), File.ReadAllText(f));
    }

    [Fact]
    public void HotPathsUseNoLinq()
    {
        string[] hot = ["Text/LineReader.cs", "Text/LineTokenizer.cs", "Text/EventTextDecoder.cs", "Text/KeyValues.cs", "Text/SpanNumber.cs",
            "Text/GfpTextDecoder.cs", "Text/TextTraceReader.cs", "Sorting/TimestampMerger.cs", "Parquet/EventsParquetWriter.cs", "Pipeline/EventSummary.cs",
            "Text/KmemFastPath.cs", "Parquet/EventsRowGroup.cs", "Parquet/ParquetFileWriter.cs", "Binary/RingBufferCpu.cs", "Binary/RawEventDecoder.cs",
            "Binary/TraceDat/TraceDatReader.cs", "Binary/Perf/PerfDataReader.cs", "Binary/Perf/RoundOrderer.cs"];
        foreach (var h in hot)
        {
            var text = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "src/Ingest", h));
            Assert.DoesNotContain("using System.Linq", text);
            Assert.DoesNotMatch(new Regex(@"\.(Select|Where|Any|ToList|ToArray|OrderBy|Count)\("), text);
        }
    }
}
