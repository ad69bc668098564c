using AsiTrace.Ingest.Canonical;

namespace AsiTrace.Ingest.Stacks;

/// <summary>Adds call sites from a <see cref="CallSiteIndex"/> to the events of another reader (<c>ingest --stacks</c>).</summary>
public sealed class CallSiteReader(IEventReader inner, CallSiteIndex index) : IEventReader
{
    readonly int _hMatched = inner.Stats.Register("call_sites_matched", Severity.Info);
    readonly int _hUnmatched = inner.Stats.Register("call_sites_unmatched", Severity.Info);
    bool _reported;

    public TraceMetadata Metadata => inner.Metadata;
    public TraceStats Stats => inner.Stats;
    public CommTable Comms => inner.Comms;
    public CommTable CallSites => index.Names;
    public long BytesConsumed => inner.BytesConsumed;

    public int Read(Span<TraceEvent> dest)
    {
        int n = inner.Read(dest);
        for (int i = 0; i < n; i++)
        {
            ref var e = ref dest[i];
            if (e.Kind is EventKind.LostEvents or EventKind.SchedSwitch or EventKind.TlbFlush) continue;
            if (index.TryTake(e, out int site)) { e.CallSiteId = site; e.Fields |= EventFields.CallSite; Stats.Add(_hMatched); }
            else Stats.Add(_hUnmatched);
        }
        if (n == 0 && !_reported)
        {
            _reported = true;
            Stats.Add("stack_samples", Severity.Info, index.Samples);
            Stats.Add("stack_samples_without_call_site", Severity.Info, index.SamplesWithoutCallSite);
            Stats.Add("stack_sample_keys_unused", Severity.Info, index.Unused);
        }
        return n;
    }

    public void Dispose() => inner.Dispose();
}
