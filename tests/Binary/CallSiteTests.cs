using System.Text.RegularExpressions;
using AsiTrace.Ingest.Canonical;
using AsiTrace.Ingest.Parquet;
using AsiTrace.Ingest.Pipeline;
using AsiTrace.Ingest.Stacks;
using AsiTrace.Tests.Ingest;

namespace AsiTrace.Tests.Binary;

/// <summary><c>ingest --stacks</c> on a real <c>perf record -g</c> capture and its <c>perf script</c> text.</summary>
public class CallSiteTests
{
    static readonly Regex Header = new(@"^\S.*\s(\d+)\s+\[(\d+)\]\s+(\d+)\.(\d+):\s+(\w+):(\w+):", RegexOptions.CultureInvariant);
    static readonly Regex Frame = new(@"^\s+[0-9a-f]+\s+([^\s+]+)(\+0x[0-9a-f]+)?\s+\(", RegexOptions.CultureInvariant);

    /// <summary>Our own reading of the perf script text: per sample, its frames' symbols, in file order.</summary>
    static List<List<string>> SamplesOf(string path)
    {
        var samples = new List<List<string>>();
        foreach (var raw in ReadAll.Lines(path))
        {
            string line = System.Text.Encoding.UTF8.GetString(raw);
            if (Header.IsMatch(line)) samples.Add(new List<string>());
            else if (samples.Count > 0 && Frame.Match(line) is { Success: true } m) samples[^1].Add(m.Groups[1].Value);
        }
        return samples;
    }

    [Fact]
    public async Task CallSitesMatchTheFirstFrameOutsideTheAllocator()
    {
        string data = TestPaths.Sample("perf-g/stacks.perf.data"), text = TestPaths.Sample("perf-g/stacks.perf.data.txt.gz");
        var index = CallSiteIndex.Load(text);
        string outPath = Path.Combine(TestPaths.TempDir(), "stacks.parquet");
        var summary = new EventSummary();
        using (var reader = new CallSiteReader(TraceOpener.Open(data, new IngestOptions()), index))
        using (var fs = File.Create(outPath))
        {
            var w = await EventsParquetWriter.CreateAsync(fs, rowGroupSize: 1000, callSites: index.Names);
            EventsPipelines.ToParquet(reader, summary, w);
            await w.CompleteAsync(reader.Metadata, reader.Stats);
            await w.DisposeAsync();
            Assert.Equal(0, reader.Stats.Get("call_sites_unmatched"));
        }
        using var back = EventsParquetReader.Open(outPath);
        var events = ReadAll.Drain(back);
        var samples = SamplesOf(text);
        Assert.Equal(samples.Count, events.Count);
        // perf script lists samples in the order perf orders them, which is the order our reader emits events.
        string[] allocator = ["__alloc_frozen_pages_noprof", "alloc_pages_mpol", "alloc_pages_noprof", "folio_alloc_noprof",
            "__folio_alloc_noprof", "vma_alloc_folio_noprof", "get_page_from_freelist", "free_frozen_pages", "__free_frozen_pages",
            "free_unref_folios", "folios_put_refs", "__folio_put", "free_pages_and_swap_cache", "__free_pages", "free_pages"];
        int attributed = 0;
        for (int i = 0; i < events.Count; i++)
        {
            var e = events[i];
            string? expected = samples[i].FirstOrDefault(s => s != "[unknown]" && !allocator.Contains(s) && !s.StartsWith("perf_", StringComparison.Ordinal)
                && !Regex.IsMatch(s, @"^_?_?(alloc|get_free|get_zeroed)_pages?|^_?_?free_(unref_)?(frozen_)?(pages?|folios?)|^release_pages|^_?_?put_page|^_?_?page_cache_release|^_?_?rmqueue"));
            string? got = e.Has(EventFields.CallSite) ? back.CallSites[e.CallSiteId] : null;
            Assert.True(expected == got, $"event {i} ({EventKinds.Name(e.Kind)} ts={e.TsNs}): expected {expected}, got {got}");
            if (got is not null) attributed++;
        }
        Assert.True(attributed > events.Count * 9 / 10, $"only {attributed} of {events.Count} events got a call site");
        // The attribution answers perf kmem --caller's question: who allocates most pages here.
        var top = events.Where(e => e.Kind == EventKind.MmPageAlloc && e.Has(EventFields.CallSite))
            .GroupBy(e => back.CallSites[e.CallSiteId]).OrderByDescending(g => g.Count()).First();
        Assert.True(top.Count() > 100, $"top allocation call site {top.Key} has only {top.Count()} pages");
    }

    [Fact]
    public void TextWithoutSamplesIsInvalidInput()
    {
        string p = Path.Combine(TestPaths.TempDir(), "empty.data.txt");
        File.WriteAllText(p, "# no samples here\n");
        Assert.Throws<AsiTrace.Ingest.Input.InvalidTraceException>(() => CallSiteIndex.Load(p));
    }
}
