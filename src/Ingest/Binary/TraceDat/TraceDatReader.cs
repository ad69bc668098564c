using AsiTrace.Ingest.Canonical;
using AsiTrace.Ingest.Input;

namespace AsiTrace.Ingest.Binary.TraceDat;

/// <summary>
/// Reads a trace-cmd <c>trace.dat</c> (v6, v7, zstd/zlib-compressed) natively into canonical events: per-CPU ring-buffer
/// pages merged in timestamp order (equal stamps: lower CPU first, as <c>trace-cmd report</c>), fields decoded through
/// the file's own format descriptions, comms from its saved cmdlines, missed-events page flags as <c>lost_events</c>
/// rows. Decoding allocates nothing per event.
/// </summary>
public sealed class TraceDatReader : IOrderedEventReader
{
    readonly TraceInput _input;
    readonly MappedFile _map;
    readonly bool _ownsMap;
    readonly TraceDatFile _file;
    readonly RawEventDecoder _decoder;
    readonly BlockDecompressor? _decompressor;
    readonly RingBufferCpu[] _cpus;
    readonly IdHeap<CpuOrder> _heap; // indices into _cpus, ordered by (Ts, Cpu)

    /// <summary>trace-cmd's order: by timestamp, equal stamps by CPU number.</summary>
    readonly struct CpuOrder(RingBufferCpu[] cpus) : IIdOrder
    {
        public bool Less(int a, int b)
        {
            var x = cpus[a]; var y = cpus[b];
            return x.Ts < y.Ts || (x.Ts == y.Ts && x.Cpu < y.Cpu);
        }
    }
    readonly PidComms _pidComms;
    readonly int _hEvents, _hMalformed, _hUnknownId, _hLostMarkers, _hLost, _hRegressions;
    long _lastEmitted = long.MinValue;
    bool _finished;

    public TraceMetadata Metadata { get; }
    public TraceStats Stats { get; } = new();
    public CommTable Comms { get; } = new();
    public long BytesConsumed { get; private set; }

    public TraceDatReader(TraceInput input, TraceMetadata? metadata = null)
    {
        _input = input;
        _ownsMap = input.Mapped is null;
        _map = input.Mapped ?? MappedFile.Spool(input.Name, input.Stream);
        try
        {
            _file = TraceDatFile.Parse(_map);
            Metadata = metadata ?? new TraceMetadata();
            Metadata.SourceFormat = $"trace-cmd-dat-v{_file.Version}";
            Metadata.Inputs.Add(input.Name);
            Metadata.KernelRelease = PidComms.ReleaseFromUname(_file.Uname) ?? Metadata.KernelRelease;
            Metadata.Clock = _file.Clock ?? Metadata.Clock ?? "local";
            Metadata.TimestampsAreNs = _file.Tsc2Nsec is not null || Metadata.Clock is not ("x86-tsc" or "counter" or "uptime");
            Metadata.CpuCount = _file.DeclaredCpus;
            if (_file.CompressedData) Metadata.Notes.Add($"per-CPU data compressed with {_file.Compression}");
            if (_file.TraceCmdVersion is not null) Metadata.Notes.Add($"recorded by trace-cmd {_file.TraceCmdVersion}");
            Metadata.Notes.AddRange(_file.Notes);
            string release = Metadata.KernelRelease ?? "";
            _decoder = new RawEventDecoder(_file.Tracing.Formats, _file.BigEndian, _file.LongSize,
                () => GfpEras.Table(GfpEras.ForRelease(Metadata.KernelRelease)), input.Name);
            Metadata.GfpTable = _decoder.GfpSource;
            Metadata.GfpFlags = _decoder.Gfp;
            if (_decoder.TlbReasonNote() is string note) Metadata.Notes.Add(note);

            _hEvents = Stats.Register("events_decoded", Severity.Info);
            _hMalformed = Stats.Register("malformed_record", Severity.Error);
            _hUnknownId = Stats.Register("unknown_event_id", Severity.Error);
            _hLostMarkers = Stats.Register("lost_event_markers", Severity.DataLoss);
            _hLost = Stats.Register("lost_events", Severity.DataLoss);
            // Each CPU's pages are in time order in a sound file; a step back means a corrupt or spliced file.
            _hRegressions = Stats.Register("timestamp_regressions", Severity.Error);
            long overrun = 0;
            foreach (var s in _file.CpuStats) overrun += CpuStatOverrun(s);
            if (_file.CpuStats.Count > 0) Stats.Add("cpustat_overrun", Severity.DataLoss, overrun);

            _pidComms = new PidComms(Comms);
            _pidComms.SetAll(_file.Tracing.Cmdlines);
            _decompressor = _file.CompressedData ? new BlockDecompressor(_file.Compression, input.Name) : null;
            _cpus = new RingBufferCpu[_file.Cpus.Count];
            for (int i = 0; i < _cpus.Length; i++)
            {
                var c = _file.Cpus[i];
                _cpus[i] = new RingBufferCpu(c.Cpu, _map, c.Offset, c.Size, _file.PageSize, _file.Tracing.PageDataOffset,
                    _file.Tracing.CommitSize, _file.BigEndian, _decompressor);
            }
            _heap = new IdHeap<CpuOrder>(new CpuOrder(_cpus), _cpus.Length);
            for (int i = 0; i < _cpus.Length; i++) if (_cpus[i].Advance()) _heap.Push(i);
        }
        catch
        {
            if (_ownsMap) _map.Dispose();
            throw;
        }
    }

    /// <summary>Sum of <c>overrun:</c> in the per-CPU stats text trace-cmd saved at the end of recording.</summary>
    static long CpuStatOverrun(string text)
    {
        long sum = 0;
        foreach (var line in text.Split('\n'))
        {
            var t = line.Trim();
            if (t.StartsWith("overrun:", StringComparison.Ordinal) && long.TryParse(t[8..].Trim(), out long v)) sum += v;
        }
        return sum;
    }

    long ToNs(long ts)
    {
        if (_file.Tsc2Nsec is { } t) ts = (long)(((UInt128)(ulong)ts * t.Mult) >> t.Shift) + t.Offset;
        return ts + _file.TimeOffset;
    }

    public int Read(Span<TraceEvent> dest)
    {
        int n = 0;
        while (n < dest.Length - 1 && _heap.Count > 0)
        {
            int i = _heap.Top;
            var cpu = _cpus[i];
            long ts = ToNs(cpu.Ts);
            if (ts < _lastEmitted) Stats.Add(_hRegressions);
            _lastEmitted = ts;
            if (cpu.PendingLost is { } lost)
            {
                ref var l = ref dest[n++];
                l = default;
                l.Kind = EventKind.LostEvents; l.TsNs = ts; l.Cpu = (ushort)cpu.Cpu; l.Lost = lost; l.Fields = EventFields.Lost;
                cpu.PendingLost = null;
                Stats.Add(_hLostMarkers);
                if (lost > 0) Stats.Add(_hLost, lost);
                continue;
            }
            ref var e = ref dest[n];
            e = default;
            switch (_decoder.Decode(cpu.Record, ref e, out var name))
            {
                case RawEventDecoder.Result.Ok:
                    e.TsNs = ts;
                    e.Cpu = (ushort)cpu.Cpu;
                    if (e.Has(EventFields.Pid)) { e.CommId = _pidComms.Get(e.Pid); e.Fields |= EventFields.Comm; }
                    Stats.Add(_hEvents);
                    n++;
                    break;
                case RawEventDecoder.Result.Other: Stats.OtherEvents.Add(name); break;
                case RawEventDecoder.Result.Unknown: Stats.Add(_hUnknownId); break;
                default: Stats.Add(_hMalformed); break;
            }
            if (cpu.Advance()) _heap.TopChanged();
            else _heap.PopTop();
        }
        if (_heap.Count == 0 && !_finished)
        {
            _finished = true;
            long pages = 0, badPages = 0, badEvents = 0;
            foreach (var c in _cpus) { pages += c.Pages; badPages += c.MalformedPages; badEvents += c.MalformedEvents; }
            Stats.Add("ring_buffer_pages", Severity.Info, pages);
            if (badPages > 0) Stats.Add("malformed_ring_buffer_page", Severity.DataLoss, badPages);
            if (badEvents > 0) Stats.Add("malformed_ring_buffer_event", Severity.DataLoss, badEvents);
        }
        BytesConsumed = EstimateConsumed();
        return n;
    }

    long EstimateConsumed()
    {
        if (_heap.Count == 0) return _map.Length;
        // Progress: pages read so far (decompressed pages for compressed data), as file bytes.
        long pages = 0;
        foreach (var c in _cpus) pages += c.Pages;
        return Math.Min(_map.Length, pages * _file.PageSize);
    }

    public void Dispose()
    {
        _decompressor?.Dispose();
        if (_ownsMap) _map.Dispose();
        _input.Dispose();
    }
}
