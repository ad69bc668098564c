using System.CommandLine;
using AsiTrace.Ingest;
using AsiTrace.Ingest.Pipeline;

namespace AsiTrace.Cli.Commands;

/// <summary>Input options shared by every command that reads traces.</summary>
sealed class CommonOptions
{
    public required Option<string> Format { get; init; }
    public required Option<string?> KernelRelease { get; init; }
    public required Option<string?> FormatDir { get; init; }

    public static CommonOptions Create()
    {
        var format = new Option<string>("--format") { Description = "input format; auto detects from content", DefaultValueFactory = _ => "auto" };
        format.AcceptOnlyFromAmong(FormatDetector.CliNames);
        var formatDir = new Option<string?>("--format-dir") { Description = "directory of event format files (kmem.mm_page_alloc.format, …) recorded with the trace; their flag tables decode gfp names and values" };
        formatDir.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<string?>() is { } d && !Directory.Exists(d)) r.AddError($"--format-dir '{d}': no such directory");
        });
        return new CommonOptions
        {
            Format = format,
            KernelRelease = new Option<string?>("--kernel-release") { Description = "kernel release of the traced machine (e.g. 5.10.0) when the trace does not say; selects the built-in gfp table" },
            FormatDir = formatDir,
        };
    }

    public void AddTo(Command c) { c.Options.Add(Format); c.Options.Add(KernelRelease); c.Options.Add(FormatDir); }

    public IngestOptions Get(ParseResult pr)
    {
        FormatDetector.TryParseName(pr.GetValue(Format) ?? "auto", out var f);
        return new IngestOptions { Format = f, KernelRelease = pr.GetValue(KernelRelease), FormatDir = pr.GetValue(FormatDir) };
    }
}
