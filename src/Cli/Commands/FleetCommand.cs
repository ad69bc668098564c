using System.CommandLine;
using AsiTrace.Fleet;

namespace AsiTrace.Cli.Commands;

/// <summary><c>asitrace fleet run CORPUS... -o OUT</c> and the task each engine runs per trace.</summary>
static class FleetCommand
{
    // The replay's options, passed on to every trace's replay as given (replay checks them).
    static readonly string[] Single = ["--policy", "--interval", "--costs", "--cpu-model", "--placement", "--max-ram", "--cpus", "--window"];
    static readonly string[] Repeated = ["--knob", "--cost", "--classify"];

    public static Command Build()
    {
        var fleet = new Command("fleet", "Replay a corpus of traces: locally in parallel or as a Slurm job array, into OUT/trace=<id>/ and OUT/corpus.parquet");
        fleet.Subcommands.Add(RunCommand());
        fleet.Subcommands.Add(TaskCommand());
        return fleet;
    }

    static Command RunCommand()
    {
        var corpus = new Argument<string[]>("corpus") { Description = "trace files, recording directories, or directories of them", Arity = ArgumentArity.OneOrMore };
        var output = new Option<string>("--output", "-o") { Description = "the fleet's output: trace=<id>/ per trace, corpus.parquet", Required = true };
        var engine = new Option<string>("--engine") { Description = "local (this machine, in parallel) or slurm (one sbatch job array)", DefaultValueFactory = _ => "local" };
        engine.AcceptOnlyFromAmong("local", "slurm");
        var jobs = new Option<int>("--jobs") { Description = "local: traces at once (default: the cores); memory bounds it further", DefaultValueFactory = _ => Environment.ProcessorCount };
        var retries = new Option<int>("--retries") { Description = "slurm: resubmit tasks that left no result (killed, out of memory) up to this many times", DefaultValueFactory = _ => 2 };
        var poll = new Option<string>("--poll") { Description = "slurm: how often to ask squeue", DefaultValueFactory = _ => "2s" };
        var partition = new Option<string?>("--partition") { Description = "slurm: the partition to submit to (default: the cluster's)" };
        var cmd = new Command("run", "Replay and report every trace of the corpus; resumable (traces done with the same inputs and options are skipped), failures recorded and isolated")
        {
            corpus, output, engine, jobs, retries, poll, partition,
        };
        var single = Single.Select(n => new Option<string?>(n) { Description = $"as for replay ({n})" }).ToList();
        var repeated = Repeated.Select(n => new Option<string[]>(n) { Description = $"as for replay ({n}); repeatable", AllowMultipleArgumentsPerToken = false }).ToList();
        foreach (var o in single) cmd.Options.Add(o);
        foreach (var o in repeated) cmd.Options.Add(o);
        cmd.SetAction(pr => CliRunner.Guard(() =>
        {
            var passOn = new List<string>();
            foreach (var o in single) if (pr.GetValue(o) is { } v) passOn.AddRange([o.Name, v]);
            foreach (var o in repeated) foreach (var v in pr.GetValue(o) ?? []) passOn.AddRange([o.Name, v]);
            if (pr.GetValue(jobs) is < 1 or > 4096) { Console.Error.WriteLine("asitrace: --jobs must be between 1 and 4096"); return ExitCodes.Usage; }
            if (pr.GetValue(retries) is < 0 or > 100) { Console.Error.WriteLine("asitrace: --retries must be between 0 and 100"); return ExitCodes.Usage; }
            if (!Ingest.Pipeline.TraceDurations.TryParse(pr.GetValue(poll)!, out long pollNs) || pollNs < 100_000_000 || pollNs > 600_000_000_000L)
            { Console.Error.WriteLine($"asitrace: --poll '{pr.GetValue(poll)}': expected a duration from 100ms to 10m"); return ExitCodes.Usage; }
            string policyList = pr.GetValue(single[0]) ?? Replay.Policies.PolicySpec.DefaultList;
            if (!Replay.Policies.PolicySpec.TryParseList(policyList, out var specs, out string policyError)) { Console.Error.WriteLine($"asitrace: {policyError}"); return ExitCodes.Usage; }
            IFleetEngine e = pr.GetValue(engine) == "slurm"
                ? new SlurmEngine(pr.GetValue(retries), TimeSpan.FromTicks(pollNs / 100), pr.GetValue(partition))
                : new LocalEngine(pr.GetValue(jobs));
            var summary = FleetRunner.Run(pr.GetValue(corpus)!, pr.GetValue(output)!, e, passOn, specs.Count, SelfCommand(), Console.Error,
                !Console.IsErrorRedirected);
            Console.Error.WriteLine($"fleet: {summary.Traces} traces, {summary.Ok} ok, {summary.Failed} failed, {summary.Skipped} skipped (already there); {summary.CorpusFile}");
            // Failures are recorded per trace with their own exit code; the run as a whole says one failed.
            return summary.Failed == 0 ? ExitCodes.Ok : ExitCodes.InvalidInput;
        }));
        return cmd;
    }

    static Command TaskCommand()
    {
        var plan = new Argument<string>("plan") { Description = "OUT/.fleet/plan.json" };
        var index = new Argument<int>("index") { Description = "the trace's index in the plan" };
        var engine = new Option<string>("--engine") { Description = "the engine running it, for the record", DefaultValueFactory = _ => "local" };
        var cmd = new Command("task", "Run one trace of a fleet plan (what fleet run's engines start per trace)") { plan, index, engine };
        cmd.Hidden = true;
        cmd.SetAction(pr => CliRunner.Guard(() =>
        {
            var p = FleetPlan.Load(pr.GetValue(plan)!);
            var record = FleetTask.Run(p, pr.GetValue(index), Invoke, pr.GetValue(engine)!);
            return record.ExitCode;
        }));
        return cmd;
    }

    /// <summary>One command line in this process, with the exit codes and one-line reports of <see cref="Program.Main"/>.</summary>
    static int Invoke(string[] args)
    {
        try { return Program.BuildRoot().Parse(args).Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false }); }
        catch (Exception ex)
        {
            var (code, line) = Program.Unexpected(ex, args);
            Console.Error.WriteLine(line);
            return code;
        }
    }

    /// <summary>How to start this asitrace again: the apphost, or dotnet with the entry assembly.</summary>
    static string[] SelfCommand()
    {
        string exe = Environment.ProcessPath ?? "asitrace";
        if (Path.GetFileNameWithoutExtension(exe) == "dotnet")
            return [exe, System.Reflection.Assembly.GetEntryAssembly()?.Location ?? throw new InvalidOperationException("no entry assembly")];
        return [exe];
    }
}
