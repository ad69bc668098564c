namespace AsiTrace.Fleet;

/// <summary>What a fleet run did.</summary>
public sealed record FleetSummary(int Traces, int Skipped, int Ok, int Failed, string CorpusFile);

/// <summary>
/// <c>asitrace fleet run</c>: every trace of the corpus replayed and reported into <c>OUT/trace=&lt;id&gt;/</c>, then
/// <c>OUT/corpus.parquet</c>. A trace whose <c>fleet.json</c> says it succeeded with the same input and options is not
/// run again; one that failed is (docs/fleet.md).
/// </summary>
public static class FleetRunner
{
    public static FleetSummary Run(IReadOnlyList<string> corpus, string outDir, IFleetEngine engine, IReadOnlyList<string> replayArgs, int policies,
        IReadOnlyList<string> command, TextWriter progressOut, bool terminal)
    {
        var traces = FleetCorpus.Discover(corpus);
        var plan = new FleetPlan(Path.GetFullPath(outDir), command, replayArgs, traces);
        Directory.CreateDirectory(plan.OutDir);
        plan.Save();
        var todo = new List<int>();
        for (int i = 0; i < traces.Count; i++)
        {
            var r = TaskRecord.TryLoad(plan.TraceDir(traces[i]));
            if (r is not { Status: "ok" } || r.OptionsSha256 != plan.OptionsSha256 || r.InputSha256 != traces[i].Sha256) todo.Add(i);
        }
        var progress = new FleetProgress(progressOut, traces.Count, terminal);
        progress.Skipped(traces.Count - todo.Count);
        if (todo.Count > 0) engine.Run(plan, todo, policies, progress);
        progress.Done();
        var rows = CorpusTable.Rows(plan);
        CorpusTable.Write(plan, rows);
        return new FleetSummary(traces.Count, traces.Count - todo.Count, rows.Count(r => r.Status == "ok"), rows.Count(r => r.Status != "ok"),
            Path.Combine(plan.OutDir, CorpusTable.FileName));
    }
}
