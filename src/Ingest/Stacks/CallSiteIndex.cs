using System.Text.RegularExpressions;
using AsiTrace.Ingest.Canonical;
using AsiTrace.Ingest.Input;
using Microsoft.Diagnostics.Tracing.StackSources;
using EventKind = AsiTrace.Ingest.Canonical.EventKind;
using StackFrame = Microsoft.Diagnostics.Tracing.StackSources.StackFrame;

namespace AsiTrace.Ingest.Stacks;

/// <summary>
/// Call sites of page allocations and frees from a <c>perf script</c> rendering of a <c>perf record -g</c> capture,
/// the way <c>perf kmem stat --page --caller</c> attributes them: the page-allocator tracepoints carry no call site, so
/// each sample's call chain is walked from the leaf past the allocator's own functions and the first frame outside
/// them is the call site. TraceEvent's <see cref="LinuxPerfScriptEventParser"/> parses the text (the stack source built
/// on it drops event names and absolute times, which the matching needs). Samples are keyed by (CPU, task, µs, kind)
/// — perf script prints µs — and handed out in order, so equal keys match in time order.
/// </summary>
public sealed class CallSiteIndex
{
    /// <summary>
    /// perf's own rule (tools/perf/builtin-kmem.c, <c>^_?_?(alloc|get_free|get_zeroed)_pages?</c>) extended with the
    /// allocator entry points and internals of newer kernels (frozen pages, folios, <c>_noprof</c> wrappers) and the
    /// free side, which perf kmem does not attribute.
    /// </summary>
    static readonly Regex AllocatorFrame = new(
        @"^(_?_?(alloc|get_free|get_zeroed)_(frozen_)?pages?|_?_?(vma_alloc_folio|folio_alloc)|alloc_pages_mpol|get_page_from_freelist|_?_?rmqueue|prep_new_page|post_alloc_hook"
        + @"|_?_?free_(unref_)?(frozen_)?(pages?|folios?)|_?_?free_pages_ok|free_pcppages_bulk|_?_?free_one_page|_?_?folio_put|folios_put_refs|release_pages|_?_?put_page"
        + @"|free_pages_and_swap_cache|free_page_and_swap_cache|_?_?page_cache_release|perf_|_?_?trace_|_?_?traceiter_)",
        RegexOptions.Compiled | RegexOptions.CultureInvariant);

    readonly record struct Key(int Cpu, int Tid, long Usec, EventKind Kind);

    readonly Dictionary<Key, (int Head, int Tail)> _chains = new();
    readonly List<(int Site, int Next)> _entries = new();
    public CommTable Names { get; } = new();
    public long Samples { get; private set; }
    public long SamplesWithoutCallSite { get; private set; }

    /// <summary>Loads a perf script text (plain or compressed by magic); throws <see cref="InvalidTraceException"/> when it has no samples.</summary>
    public static CallSiteIndex Load(string path)
    {
        using var input = TraceInput.Open(path);
        var index = new CallSiteIndex();
        var parser = new LinuxPerfScriptEventParser();
        try
        {
            foreach (var e in parser.ParseSkippingPreamble(input.Stream)) index.Add(e);
        }
        catch (Exception e) when (e is FormatException or InvalidOperationException or IndexOutOfRangeException or ArgumentException)
        {
            throw new InvalidTraceException(path, $"sample {index.Samples + 1}", $"not perf script output with call stacks: {e.Message}");
        }
        if (index.Samples == 0)
            throw new InvalidTraceException(path, "byte 0", "no samples: expected the output of `perf script` on a `perf record -g` capture of kmem tracepoints");
        return index;
    }

    void Add(LinuxEvent e)
    {
        string prop = e.EventProperty ?? "";
        int colon = prop.IndexOf(':');
        var kind = EventKinds.FromTracepoint(System.Text.Encoding.UTF8.GetBytes(colon > 0 ? prop[..colon] : prop));
        if (kind == EventKind.None) return;
        Samples++;
        string? site = null;
        foreach (var f in e.CallerStacks)
        {
            if (f is not StackFrame sf) break; // thread/process frames follow the last code frame
            string symbol = sf.Symbol ?? "";
            if (symbol.Length == 0 || symbol == "unknown" || AllocatorFrame.IsMatch(symbol)) continue;
            site = symbol;
            break;
        }
        if (site is null) { SamplesWithoutCallSite++; return; }
        var key = new Key(e.CpuNumber, e.ThreadID, (long)Math.Round(e.TimeMSec * 1000), kind);
        int entry = _entries.Count;
        _entries.Add((Names.Intern(site), -1));
        if (_chains.TryGetValue(key, out var chain))
        {
            _entries[chain.Tail] = (_entries[chain.Tail].Site, entry);
            _chains[key] = (chain.Head, entry);
        }
        else _chains[key] = (entry, entry);
    }

    /// <summary>The call site of an event, consumed so the next event with the same key gets the next sample's.</summary>
    public bool TryTake(in TraceEvent e, out int site)
    {
        site = -1;
        if (_chains.Count == 0) return false;
        var key = new Key(e.Cpu, e.Pid, e.TsNs / 1000, e.Kind);
        if (!_chains.TryGetValue(key, out var chain)) return false;
        site = _entries[chain.Head].Site;
        int next = _entries[chain.Head].Next;
        if (next < 0) _chains.Remove(key);
        else _chains[key] = (next, chain.Tail);
        return true;
    }

    public int Unused => _chains.Count;
}
