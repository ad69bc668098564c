using AsiTrace.Ingest.Canonical;
using AsiTrace.Ingest.Input;

namespace AsiTrace.Ingest.Binary.Perf;

/// <summary>
/// Reads a <c>perf.data</c> file natively into canonical events: PERF_RECORD_SAMPLE of tracepoints (every sample field
/// the attr's sample_type declares is walked, so fields we do not use are skipped correctly), RAW payloads decoded
/// through the file's tracing-data formats, COMM/FORK records for task names, LOST/LOST_SAMPLES as <c>lost_events</c>
/// rows. perf writes each CPU's buffer in turn, so records are only ordered across FINISHED_ROUND markers: events
/// are held until the round after next and emitted sorted, as perf's own ordered-events queue does.
/// </summary>
public sealed class PerfDataReader : IEventReader
{
    const uint RecordMmap = 1, RecordLost = 2, RecordComm = 3, RecordFork = 7, RecordSample = 9, RecordLostSamples = 13, RecordFinishedRound = 68;
    /// <summary>Events held for ordering before we give up waiting for a round marker.</summary>
    public const int MaxPending = 1 << 22;

    readonly TraceInput _input;
    readonly MappedFile _map;
    readonly bool _ownsMap;
    readonly PerfDataFile _file;
    readonly RawEventDecoder? _decoder;
    readonly Dictionary<ulong, PerfAttr> _byId = new();
    readonly PerfAttr? _single;
    readonly bool _allIdentifier;
    readonly int _idPosition = -1; // u64 index of the ID field in a sample when IDENTIFIER is not used
    readonly PidComms _pidComms;
    readonly int _hEvents, _hMalformed, _hUnknownId, _hLost, _hLostRecords, _hNonTracepoint, _hRoundOverflow, _hRecords;

    long _pos, _end;
    readonly RoundOrderer _orderer = new();
    long _maxTs = long.MinValue, _prevRoundMax = long.MinValue, _lastTs;
    long _limit = long.MinValue; // records at or before this time are safe to emit
    bool _eof;

    public TraceMetadata Metadata { get; }
    public TraceStats Stats { get; } = new();
    public CommTable Comms { get; } = new();
    public long BytesConsumed => _pos;

    public PerfDataReader(TraceInput input, TraceMetadata? metadata = null)
    {
        _input = input;
        _ownsMap = input.Mapped is null;
        _map = input.Mapped ?? MappedFile.Spool(input.Name, input.Stream);
        try
        {
            _file = PerfDataFile.Parse(_map);
            Metadata = metadata ?? new TraceMetadata();
            Metadata.SourceFormat = "perf-data";
            Metadata.Inputs.Add(input.Name);
            Metadata.KernelRelease = _file.OsRelease ?? Metadata.KernelRelease;
            Metadata.Clock ??= "perf";
            if (_file.CpuCount > 0) Metadata.CpuCount = _file.CpuCount;
            if (_file.PerfVersion is not null) Metadata.Notes.Add($"recorded by perf {_file.PerfVersion}");
            if (_file.Tracing is { } td)
            {
                _decoder = new RawEventDecoder(td.Formats, _file.TracingBigEndian, _file.TracingLongSize,
                    () => GfpEras.Table(GfpEras.ForRelease(Metadata.KernelRelease)), input.Name);
                Metadata.GfpTable = _decoder.GfpSource;
            }
            else Metadata.Notes.Add("the file has no tracing data (no tracepoint events were recorded)");

            foreach (var a in _file.Attrs) foreach (var id in a.Ids) _byId[id] = a;
            if (_file.Attrs.Count == 1) _single = _file.Attrs[0];
            _allIdentifier = _file.Attrs.Count > 0 && _file.Attrs.TrueForAll(a => (a.SampleType & PerfDataFile.SampleIdentifier) != 0);
            if (!_allIdentifier && _file.Attrs.Count > 1)
            {
                // perf requires the ID field at the same place in every attr's samples (evsel__calc_id_pos).
                ulong st = _file.Attrs[0].SampleType;
                if ((st & PerfDataFile.SampleId) != 0)
                {
                    _idPosition = 0;
                    foreach (var b in new[] { PerfDataFile.SampleIp, PerfDataFile.SampleTid, PerfDataFile.SampleTime, PerfDataFile.SampleAddr })
                        if ((st & b) != 0) _idPosition++;
                }
            }
            _pidComms = new PidComms(Comms, perfStyle: true);
            if (_file.Tracing is { } t2) _pidComms.SetAll(t2.Cmdlines);

            _hRecords = Stats.Register("perf_records", Severity.Info);
            _hEvents = Stats.Register("events_decoded", Severity.Info);
            _hMalformed = Stats.Register("malformed_record", Severity.Error);
            _hUnknownId = Stats.Register("unknown_sample_id", Severity.Error);
            _hLostRecords = Stats.Register("lost_event_markers", Severity.DataLoss);
            _hLost = Stats.Register("lost_events", Severity.DataLoss);
            _hNonTracepoint = Stats.Register("non_tracepoint_samples", Severity.Info);
            _hRoundOverflow = Stats.Register("perf_round_overflow", Severity.Error);
            _pos = _file.DataOffset;
            _end = _file.DataOffset + _file.DataSize;
        }
        catch
        {
            if (_ownsMap) _map.Dispose();
            throw;
        }
    }

    public int Read(Span<TraceEvent> dest)
    {
        int n = 0;
        while (n < dest.Length)
        {
            if (_orderer.TryPeek(_limit, out int q))
            {
                ref var e = ref _orderer.Head(q);
                if (ResolveComm(ref e)) dest[n++] = e;
                _orderer.Pop(q);
                continue;
            }
            if (_eof) break;
            ReadRound();
        }
        if (_eof && _orderer.Pending == 0 && _commTexts.Count > 0) _commTexts.Clear();
        return n;
    }

    /// <summary>Parses records up to the next FINISHED_ROUND (or the end) and moves the release limit.</summary>
    void ReadRound()
    {
        while (_pos < _end)
        {
            if (_end - _pos < 8) throw new InvalidTraceException(_map.Name, $"byte {_pos}", "truncated perf record header at the end of the data section");
            var hdr = _map.Span(_pos, 8);
            uint type = Endian.U32(hdr, _file.BigEndian);
            int size = (int)Endian.Read(hdr, 6, 2, false, _file.BigEndian);
            if (size < 8 || size > _end - _pos)
                throw new InvalidTraceException(_map.Name, $"byte {_pos}", $"perf record of type {type} has size {size}, which {(size < 8 ? "is smaller than its header" : "runs past the data section")}");
            var rec = _map.Span(_pos, size);
            long at = _pos;
            _pos += size;
            Stats.Add(_hRecords);
            switch (type)
            {
                case RecordSample: Sample(rec, at); break;
                case RecordComm: Comm(rec); break;
                case RecordFork: Fork(rec); break;
                case RecordLost: Lost(rec, 24, 16); break;
                case RecordLostSamples: Lost(rec, 16, 8); break;
                case RecordFinishedRound:
                    // Nothing after this marker is older than what came before the previous one.
                    _limit = Math.Max(_limit, _prevRoundMax);
                    _prevRoundMax = _maxTs;
                    return;
            }
            if (_orderer.Pending >= MaxPending)
            {
                // No round markers (or absurdly long rounds): emit what we have, in order, and count it.
                Stats.Add(_hRoundOverflow);
                _limit = _maxTs;
                return;
            }
        }
        _limit = long.MaxValue;
        _eof = true;
    }

    void Sample(ReadOnlySpan<byte> rec, long at)
    {
        bool big = _file.BigEndian;
        PerfAttr? attr = _single;
        int pos = 8;
        if (_allIdentifier)
        {
            if (rec.Length < 16) { Stats.Add(_hMalformed); return; }
            ulong id = Endian.U64(rec.Slice(8, 8), big);
            if (!_byId.TryGetValue(id, out attr)) { Stats.Add(_hUnknownId); return; }
        }
        else if (_idPosition >= 0 && attr is null)
        {
            int p = 8 + _idPosition * 8;
            if (rec.Length < p + 8) { Stats.Add(_hMalformed); return; }
            if (!_byId.TryGetValue(Endian.U64(rec.Slice(p, 8), big), out attr)) { Stats.Add(_hUnknownId); return; }
        }
        if (attr is null) { Stats.Add(_hUnknownId); return; }
        ulong st = attr.SampleType;
        int tid = -1, cpu = 0; long time = _lastTs;
        bool hasTid = false;
        ReadOnlySpan<byte> raw = default;
        var c = new RecordCursor(rec, pos, big);
        if ((st & PerfDataFile.SampleIdentifier) != 0) c.U64();
        if ((st & PerfDataFile.SampleIp) != 0) c.U64();
        if ((st & PerfDataFile.SampleTid) != 0) { c.U32(); tid = (int)c.U32(); hasTid = true; }
        if ((st & PerfDataFile.SampleTime) != 0) time = (long)c.U64();
        if ((st & PerfDataFile.SampleAddr) != 0) c.U64();
        if ((st & PerfDataFile.SampleId) != 0) c.U64();
        if ((st & PerfDataFile.SampleStreamId) != 0) c.U64();
        if ((st & PerfDataFile.SampleCpu) != 0) { cpu = (int)c.U32(); c.U32(); }
        if ((st & PerfDataFile.SamplePeriod) != 0) c.U64();
        if ((st & PerfDataFile.SampleRead) != 0) SkipRead(attr.ReadFormat, ref c);
        if ((st & PerfDataFile.SampleCallchain) != 0) c.Skip(c.U64(), 8);
        if ((st & PerfDataFile.SampleRaw) != 0) raw = c.Bytes(c.U32());
        if (!c.Ok || (uint)cpu > ushort.MaxValue) { Stats.Add(_hMalformed); return; }
        if (attr.Type != PerfAttr.TypeTracepoint || (st & PerfDataFile.SampleRaw) == 0 || _decoder is null)
        {
            Stats.Add(_hNonTracepoint);
            return;
        }
        ref var e = ref _orderer.Append(cpu);
        e = default;
        switch (_decoder.Decode(raw, ref e, out var name))
        {
            case RawEventDecoder.Result.Ok:
                e.TsNs = time;
                e.Cpu = (ushort)cpu;
                if (hasTid) { e.Pid = tid; e.Fields |= EventFields.Pid; }
                Stats.Add(_hEvents); // the comm is resolved at release, after COMM/FORK records are put in time order
                Track(time);
                _orderer.Commit(cpu);
                break;
            case RawEventDecoder.Result.Other: Stats.OtherEvents.Add(name); break;
            case RawEventDecoder.Result.Unknown: Stats.Add(_hUnknownId); break;
            default: Stats.Add(_hMalformed); break;
        }
    }

    /// <summary>PERF_SAMPLE_READ: one value or a group, each with the optional parts read_format asks for.</summary>
    static void SkipRead(ulong readFormat, ref RecordCursor c)
    {
        const ulong TotalEnabled = 1, TotalRunning = 2, Id = 4, Group = 8, LostFmt = 16;
        ulong perValue = 8 + ((readFormat & Id) != 0 ? 8UL : 0) + ((readFormat & LostFmt) != 0 ? 8UL : 0);
        ulong fixedPart = ((readFormat & TotalEnabled) != 0 ? 8UL : 0) + ((readFormat & TotalRunning) != 0 ? 8UL : 0);
        if ((readFormat & Group) != 0)
        {
            ulong nr = c.U64();
            c.Skip(fixedPart, 1);
            c.Skip(nr, perValue);
        }
        else c.Skip(fixedPart + perValue, 1);
    }

    /// <summary>Walks a sample's fields; any read past the record clears <see cref="Ok"/> instead of throwing.</summary>
    ref struct RecordCursor(ReadOnlySpan<byte> rec, int pos, bool big)
    {
        readonly ReadOnlySpan<byte> _rec = rec;
        int _pos = pos;
        public bool Ok = true;

        public ulong U64()
        {
            if (_pos + 8 > _rec.Length) { Ok = false; _pos = _rec.Length; return 0; }
            ulong v = Endian.U64(_rec.Slice(_pos, 8), big); _pos += 8; return v;
        }

        public uint U32()
        {
            if (_pos + 4 > _rec.Length) { Ok = false; _pos = _rec.Length; return 0; }
            uint v = Endian.U32(_rec.Slice(_pos, 4), big); _pos += 4; return v;
        }

        public void Skip(ulong count, ulong size)
        {
            ulong left = (ulong)(_rec.Length - _pos);
            if (size != 0 && count > left / size) { Ok = false; _pos = _rec.Length; return; }
            _pos += (int)(count * size);
        }

        public ReadOnlySpan<byte> Bytes(uint n)
        {
            if (n > _rec.Length - _pos) { Ok = false; _pos = _rec.Length; return default; }
            var s = _rec.Slice(_pos, (int)n); _pos += (int)n; return s;
        }
    }

    /// <summary>The sample_id trailer of a non-sample record (sample_id_all): TID, TIME, ID, STREAM_ID, CPU, IDENTIFIER.
    /// True when it names a CPU.</summary>
    bool Trailer(ReadOnlySpan<byte> rec, out long time, out int cpu)
    {
        time = _lastTs; cpu = -1;
        var attr = _file.Attrs.Count > 0 ? _file.Attrs[0] : null;
        if (attr is null || !attr.SampleIdAll) return false;
        ulong st = attr.SampleType;
        int size = 0;
        if ((st & PerfDataFile.SampleTid) != 0) size += 8;
        int timeAt = size;
        if ((st & PerfDataFile.SampleTime) != 0) size += 8;
        if ((st & PerfDataFile.SampleId) != 0) size += 8;
        if ((st & PerfDataFile.SampleStreamId) != 0) size += 8;
        int cpuAt = size;
        if ((st & PerfDataFile.SampleCpu) != 0) size += 8;
        if ((st & PerfDataFile.SampleIdentifier) != 0) size += 8;
        if (size == 0 || rec.Length < 8 + size) return false;
        var t = rec[^size..];
        if ((st & PerfDataFile.SampleTime) != 0) time = (long)Endian.U64(t.Slice(timeAt, 8), _file.BigEndian);
        if ((st & PerfDataFile.SampleCpu) != 0) cpu = (int)Math.Min(Endian.U32(t.Slice(cpuAt, 4), _file.BigEndian), ushort.MaxValue);
        return cpu >= 0;
    }

    // COMM and FORK records are ordered with the samples (perf queues them by their sample_id time too) and applied
    // when released: a task's exec rename lands between its samples exactly where it happened.
    readonly List<string> _commTexts = new();
    const EventFields SideBandComm = (EventFields)(1u << 30), SideBandFork = (EventFields)(1u << 29);

    void Comm(ReadOnlySpan<byte> rec)
    {
        if (rec.Length < 17) { Stats.Add(_hMalformed); return; }
        int tid = (int)Endian.U32(rec.Slice(12, 4), _file.BigEndian);
        var s = rec[16..];
        int nul = s.IndexOf((byte)0);
        if (nul < 0) { Stats.Add(_hMalformed); return; }
        bool hasCpu = Trailer(rec, out long time, out int cpu);
        if (!hasCpu) cpu = -1;
        ref var e = ref _orderer.Append(cpu);
        e = default;
        e.TsNs = time; e.Pid = tid; e.Fields = SideBandComm; e.Index = (ulong)_commTexts.Count;
        _commTexts.Add(System.Text.Encoding.UTF8.GetString(s[..nul]));
        Track(time);
        _orderer.Commit(cpu);
    }

    void Fork(ReadOnlySpan<byte> rec)
    {
        // {u32 pid, ppid, tid, ptid; u64 time}: the child starts with its parent's comm (perf's thread__fork).
        if (rec.Length < 32) { Stats.Add(_hMalformed); return; }
        int tid = (int)Endian.U32(rec.Slice(16, 4), _file.BigEndian);
        int ptid = (int)Endian.U32(rec.Slice(20, 4), _file.BigEndian);
        long time = (long)Endian.U64(rec.Slice(24, 8), _file.BigEndian);
        int cpu = Trailer(rec, out _, out int c) ? c : -1;
        ref var e = ref _orderer.Append(cpu);
        e = default;
        e.TsNs = time; e.Pid = tid; e.PrevPid = ptid; e.Fields = SideBandFork;
        Track(time);
        _orderer.Commit(cpu);
    }

    /// <summary>Applies a side-band record, or names the event's task; false for side-band records (not emitted).</summary>
    bool ResolveComm(ref TraceEvent e)
    {
        if (e.Kind == EventKind.None)
        {
            if ((e.Fields & SideBandComm) != 0) _pidComms.Set(e.Pid, _commTexts[(int)e.Index]);
            else if ((e.Fields & SideBandFork) != 0)
            {
                var parent = _pidComms.Name(e.PrevPid) ?? (e.PrevPid == 0 ? "swapper" : null);
                if (parent is not null) _pidComms.Set(e.Pid, parent);
            }
            return false;
        }
        if (e.Has(EventFields.Pid)) { e.CommId = _pidComms.Get(e.Pid); e.Fields |= EventFields.Comm; }
        return true;
    }

    void Lost(ReadOnlySpan<byte> rec, int minLength, int countAt)
    {
        if (rec.Length < minLength) { Stats.Add(_hMalformed); return; }
        long lost = (long)Endian.U64(rec.Slice(countAt, 8), _file.BigEndian);
        bool hasCpu = Trailer(rec, out long time, out int cpu);
        ref var e = ref _orderer.Append(hasCpu ? cpu : -1);
        e = default;
        e.Kind = EventKind.LostEvents; e.TsNs = time; e.Cpu = (ushort)Math.Max(cpu, 0); e.Lost = lost; e.Fields = EventFields.Lost;
        Track(time);
        _orderer.Commit(hasCpu ? cpu : -1);
        Stats.Add(_hLostRecords);
        if (lost > 0) Stats.Add(_hLost, lost);
    }

    void Track(long time)
    {
        if (time > _maxTs) _maxTs = time;
        _lastTs = time;
    }

    public void Dispose()
    {
        if (_ownsMap) _map.Dispose();
        _input.Dispose();
    }
}
