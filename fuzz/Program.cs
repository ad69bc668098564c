using AsiTrace.Ingest;
using AsiTrace.Ingest.Canonical;
using AsiTrace.Ingest.Input;
using AsiTrace.Ingest.Pipeline;
using SharpFuzz;

namespace AsiTrace.Fuzz;

/// <summary>
/// One harness per reader, chosen by the first argument (trace-dat, perf-data, text, csv, parquet): afl++ hands each
/// input over; it must end in events or <see cref="InvalidTraceException"/>. Any other exception is a crash for afl++.
/// The format is forced so that afl++'s mutations explore the reader, not the detector.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length < 1 || Format(args[0]) is not { } format)
        {
            Console.Error.WriteLine("usage: asitrace-fuzz trace-dat|perf-data|text|csv|parquet [FILE...]  (under afl-fuzz: no FILE)");
            return 2;
        }
        var dir = Directory.CreateTempSubdirectory("asitrace-fuzz-");
        string path = Path.Combine(dir.FullName, "input");
        void One(Stream s)
        {
            using (var f = File.Create(path)) s.CopyTo(f);
            try
            {
                using var reader = TraceOpener.Open(path, new IngestOptions { Format = format });
                var buf = new TraceEvent[1024];
                while (reader.Read(buf) > 0) { }
            }
            catch (InvalidTraceException) { }
            catch (Exception e) when (Environment.GetEnvironmentVariable("ASITRACE_FUZZ_LOG") is { } log)
            {
                // afl++ keeps the crashing input, not the exception: say which one it was.
                File.WriteAllText(log, e.ToString());
                throw;
            }
        }
        if (args.Length > 1)
        {
            foreach (var file in args.Skip(1)) { using var s = File.OpenRead(file); One(s); }
            return 0;
        }
        Fuzzer.OutOfProcess.Run(One);
        return 0;
    }

    static InputFormat? Format(string name) => name switch
    {
        "trace-dat" => InputFormat.TraceDat,
        "perf-data" => InputFormat.PerfData,
        "text" => InputFormat.Ftrace,
        "csv" => InputFormat.Csv,
        "parquet" => InputFormat.EventsParquet,
        _ => null,
    };
}
