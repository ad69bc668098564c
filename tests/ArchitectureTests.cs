using System.Reflection;
using System.Text.RegularExpressions;
using AsiTrace.Replay.Policies;
using AsiTrace.Replay.Results;

namespace AsiTrace.Tests;

/// <summary>The layering rules of the README's layout section, checked by scanning the source and the project files
/// (after ScottPlot's architecture tests).</summary>
public class ArchitectureTests
{
    static IEnumerable<string> Sources(string project) =>
        Directory.EnumerateFiles(Path.Combine(TestPaths.RepoRoot, "src", project), "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains("/obj/") && !f.Contains("/bin/"));

    static string Project(string project) => File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "src", project, project + ".csproj"));

    static IEnumerable<string> ProjectReferences(string project) =>
        Regex.Matches(Project(project), @"ProjectReference Include=""\.\./(\w+)/").Select(m => m.Groups[1].Value);

    /// <summary>Source files of <paramref name="project"/> that name <paramref name="layer"/>'s namespace (a using or a
    /// qualified name).</summary>
    static List<string> FilesNaming(string project, params string[] layers) =>
        Sources(project).Where(f => Regex.IsMatch(File.ReadAllText(f), $@"\bAsiTrace\.({string.Join("|", layers)})\b")).ToList();

    [Fact]
    public void ModelHasNoIoNoConsoleNoClock()
    {
        foreach (var f in Sources("Model"))
        {
            var text = File.ReadAllText(f);
            Assert.DoesNotMatch(new Regex(@"\b(System\.IO|File\.|Console\.|DateTime\.Now|Stopwatch)\b"), text);
        }
        Assert.Empty(ProjectReferences("Model"));
        Assert.Empty(FilesNaming("Model", "Ingest", "Replay", "Report", "Cli"));
    }

    [Fact]
    public void IngestKnowsNothingOfTheModelOrReplay()
    {
        Assert.Empty(ProjectReferences("Ingest"));
        Assert.Empty(FilesNaming("Ingest", "Model", "Replay", "Report", "Cli"));
    }

    [Fact]
    public void ReplayDoesNotReachIntoReportOrCli()
    {
        Assert.Equal(["Ingest", "Model"], ProjectReferences("Replay").Order());
        Assert.Empty(FilesNaming("Replay", "Report", "Cli"));
    }

    [Fact]
    public void ReportReadsResultsOnly()
    {
        // Report draws from results files and the Replay.Results contract; it never sees the model or the readers.
        Assert.Equal(["Replay"], ProjectReferences("Report"));
        Assert.Empty(FilesNaming("Report", "Model", "Ingest", "Cli"));
        foreach (var f in Sources("Report"))
            Assert.DoesNotMatch(new Regex(@"using AsiTrace\.Replay(?!\.Results)"), File.ReadAllText(f));
    }

    [Fact]
    public void FleetRunsTheToolNotTheModel()
    {
        // Fleet orders replays (processes, schedulers, records); the replay itself is the CLI's, run per task.
        Assert.Equal(["Report"], ProjectReferences("Fleet"));
        Assert.Empty(FilesNaming("Fleet", "Model", "Ingest", "Cli"));
    }

    [Fact]
    public void MetricNamesAreTypedOnlyInTheRegistry()
    {
        // A metric name written as a string outside the registry is how a renamed metric silently charts as zeros.
        var names = Metrics.All.Select(m => m.Name).Where(n => n.Contains('_')).ToHashSet();
        var registry = Path.Combine("Replay", "Results", "Metric.cs");
        var offenders = new List<string>();
        foreach (var project in new[] { "Replay", "Report", "Cli" })
            foreach (var f in Sources(project).Where(f => !f.EndsWith(registry, StringComparison.Ordinal)))
                foreach (Match m in Regex.Matches(File.ReadAllText(f), @"""([a-z0-9_]+)"""))
                    if (names.Contains(m.Groups[1].Value)) offenders.Add($"{Path.GetFileName(f)}: \"{m.Groups[1].Value}\"");
        Assert.Empty(offenders);
    }

    [Fact]
    public void UnknownMetricIsAnError()
    {
        Assert.Throws<KeyNotFoundException>(() => Metrics.Get("asi_exit"));
        Assert.Equal("asi_exits", Metrics.Get("asi_exits").Name);
        Assert.True(Metrics.IsKnown(Metrics.PcpCount("Normal", 3)));
        Assert.False(Metrics.IsKnown("pcp_drained"));
        var set = new AsiTrace.Report.ResultsSet { Directory = "x" };
        Assert.Throws<KeyNotFoundException>(() => set.Total("noasi", "asi_exit"));
    }

    [Fact]
    public void EachPolicyIsOneFileNamedAfterItsClass()
    {
        var dir = Path.Combine(TestPaths.RepoRoot, "src", "Replay", "Policies");
        var kinds = Enum.GetValues<PolicyKind>();
        foreach (var kind in kinds)
            foreach (bool mermap in new[] { false, true })
            {
                var spec = new PolicySpec(kind, mermap);
                var policy = spec.Create(new PolicyKnobs());
                Assert.Equal(spec.Name, policy.Name);
                var type = policy.GetType();
                var file = Path.Combine(dir, type.Name + ".cs");
                Assert.True(File.Exists(file), $"{spec.Name}: expected its class {type.Name} in {file}");
                // The class is declared in that file and nowhere else.
                var declaring = Sources("Replay").Where(f => Regex.IsMatch(File.ReadAllText(f), $@"\bclass {type.Name}\b")).ToList();
                Assert.Equal([file], declaring);
            }
        // No policy decision is made by switching on the kind outside PolicySpec.Create.
        foreach (var f in Sources("Replay").Where(f => !f.EndsWith("PolicySpec.cs", StringComparison.Ordinal)))
            Assert.DoesNotMatch(new Regex(@"PolicyKind\.(AsiRfc|AsiFreetypes|Unmapped|SecretFree)"), File.ReadAllText(f));
    }

    [Fact]
    public void EveryPolicyClassImplementsTheInterface()
    {
        var policyTypes = typeof(IPolicy).Assembly.GetTypes().Where(t => typeof(IPolicy).IsAssignableFrom(t) && !t.IsInterface).ToList();
        Assert.Equal(Enum.GetValues<PolicyKind>().Length + 1, policyTypes.Count); // each kind, and the +mermap wrapper
        Assert.All(policyTypes, t => Assert.True(t.IsSealed, t.Name));
    }

    [Fact]
    public void TheCodeCitesDocsInTheRepository()
    {
        // A clone is all a contributor has: the documents the code cites must be in it.
        var offenders = new List<string>();
        foreach (var project in new[] { "Model", "Ingest", "Replay", "Report", "Cli" })
            foreach (var f in Sources(project))
            {
                var text = File.ReadAllText(f);
                foreach (Match m in Regex.Matches(text, @"(model-reference\.md|design\.md|trace-formats\.md|dotnet-stack\.md|\.\./shared)"))
                    offenders.Add($"{Path.GetFileName(f)}: {m.Value}");
                foreach (Match m in Regex.Matches(text, @"docs/([a-z-]+\.md)( §([0-9]+(?:\.[0-9]+)*))?"))
                {
                    var doc = Path.Combine(TestPaths.RepoRoot, "docs", m.Groups[1].Value);
                    if (!File.Exists(doc)) { offenders.Add($"{Path.GetFileName(f)}: {m.Value} does not exist"); continue; }
                    // A cited section is a heading "## N." / "### N.M" or a bold "**N.M**" paragraph of that document.
                    string sec = m.Groups[3].Value;
                    if (sec.Length > 0 && !Regex.IsMatch(File.ReadAllText(doc), $@"(?m)^(#+ {Regex.Escape(sec)}\.? |.*\*\*{Regex.Escape(sec)}\*\*)"))
                        offenders.Add($"{Path.GetFileName(f)}: {m.Value} has no such section");
                }
            }
        Assert.Empty(offenders);
    }

    [Fact]
    public void HotPathsUseNoLinq()
    {
        string[] hot = ["Text/LineReader.cs", "Text/LineTokenizer.cs", "Text/EventTextDecoder.cs", "Text/KeyValues.cs", "Text/SpanNumber.cs",
            "Text/GfpTextDecoder.cs", "Text/TextTraceReader.cs", "Sorting/TimestampMerger.cs", "Parquet/EventsParquetWriter.cs", "Pipeline/EventSummary.cs",
            "Text/KmemFastPath.cs", "Parquet/EventsRowGroup.cs", "Parquet/ParquetFileWriter.cs", "Binary/RingBufferCpu.cs", "Binary/RawEventDecoder.cs",
            "Binary/TraceDat/TraceDatReader.cs", "Binary/Perf/PerfDataReader.cs", "Binary/Perf/RoundOrderer.cs"];
        string[] replayHot = ["Machines/Machine.cs", "Machines/CostLedger.cs", "Machines/CpaTotals.cs", "Machines/AllocationMix.cs",
            "Policies/NoAsi.cs", "Policies/AsiRfc.cs", "Policies/AsiFreetypes.cs", "Policies/Unmapped.cs", "Policies/SecretFree.cs", "Policies/WithMermap.cs",
            "Requests/RequestBatch.cs"];
        foreach (var h in hot.Select(h => Path.Combine("src/Ingest", h)).Concat(replayHot.Select(h => Path.Combine("src/Replay", h))))
        {
            var text = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, h));
            Assert.DoesNotContain("using System.Linq", text);
            Assert.DoesNotMatch(new Regex(@"\.(Select|Where|Any|ToList|ToArray|OrderBy|Count|Sum)\("), text);
        }
    }
}
