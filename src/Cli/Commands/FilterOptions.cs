using System.CommandLine;
using AsiTrace.Ingest;
using AsiTrace.Ingest.Pipeline;

namespace AsiTrace.Cli.Commands;

/// <summary><c>--window</c>, <c>--cpu</c>, <c>--pid</c>, <c>--comm</c>: the events <c>stats</c> and <c>ingest</c> keep.</summary>
sealed class FilterOptions
{
    public required Option<string?> Window { get; init; }
    public required Option<string?> Cpu { get; init; }
    public required Option<string?> Pid { get; init; }
    public required Option<string?> Comm { get; init; }

    public static FilterOptions Create() => new()
    {
        Window = new Option<string?>("--window") { Description = "keep events in FROM..TO: offsets from the trace's first event with a unit (10s..20s, 250ms..) or trace time in seconds as printed (8337.5..8338); either end may be left out" },
        Cpu = new Option<string?>("--cpu") { Description = "keep events of these CPUs (0,2-3)" },
        Pid = new Option<string?>("--pid") { Description = "keep events of these task ids (1234,1240-1250)" },
        Comm = new Option<string?>("--comm") { Description = "keep events of tasks with these names (comma-separated, exact)" },
    };

    public void AddTo(Command c) { c.Options.Add(Window); c.Options.Add(Cpu); c.Options.Add(Pid); c.Options.Add(Comm); }

    /// <summary>The filter asked for (null: none), or a usage error.</summary>
    public EventFilter? Get(ParseResult pr, out string? error)
    {
        error = null;
        var f = new EventFilter();
        var said = new List<string>();
        if (pr.GetValue(Window) is { } w)
        {
            if (!EventFilter.TryParseWindow(w, out var from, out bool fo, out var to, out bool tOff, out error)) return null;
            f = f with { FromNs = from, FromIsOffset = fo, ToNs = to, ToIsOffset = tOff };
            said.Add($"--window {w}");
        }
        if (pr.GetValue(Cpu) is { } c)
        {
            if (!EventFilter.TryParseList(c, 65535, out var cpus)) { error = $"--cpu '{c}': expected CPU numbers and ranges, e.g. 0,2-3"; return null; }
            f = f with { Cpus = cpus };
            said.Add($"--cpu {c}");
        }
        if (pr.GetValue(Pid) is { } p)
        {
            if (!EventFilter.TryParseList(p, int.MaxValue, out var pids)) { error = $"--pid '{p}': expected task ids and ranges, e.g. 1234,1240-1250"; return null; }
            f = f with { Pids = pids };
            said.Add($"--pid {p}");
        }
        if (pr.GetValue(Comm) is { } n)
        {
            var names = n.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);
            if (names.Count == 0) { error = "--comm: give at least one task name"; return null; }
            f = f with { Comms = names };
            said.Add($"--comm {n}");
        }
        return f.IsEmpty ? null : f with { Description = string.Join(' ', said) };
    }

    /// <summary>The reader itself, or one that passes on only what <paramref name="filter"/> keeps (said in the notes).</summary>
    public static IEventReader Apply(IEventReader reader, EventFilter? filter)
    {
        if (filter is null) return reader;
        reader.Metadata.Notes.Add($"events filtered: {filter.Description}");
        return new FilteringReader(reader, filter);
    }
}
