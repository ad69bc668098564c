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
public sealed class PerfDataReader : IOrderedEventReader
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
    readonly int _hEvents, _hMalformed, _hUnknownId, _hLost, _hLostRecords, _hNonTracepoint, _hRoundOverflow, _hRecords, _hRegressions;
    long _lastEmitted = long.MinValue;

    long _pos, _end;
    readonly RoundOrderer _orderer = new();
    const long DropEvery = 64 << 20;
    long _dropped;
    (int TimeFromEnd, int CpuFromEnd) _trailer;
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
                Metadata.GfpFlags = _decoder.Gfp;
                if (_decoder.TlbReasonNote() is string note) Metadata.Notes.Add(note);
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
            _hRegressions = Stats.Register("timestamp_regressions", Severity.Error);
            _trailer = TrailerLayout();
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
            if (_orderer.TryPeek(_limit, out var next))
            {
                _orderer.Pop();
                // Only a file that breaks perf's round rule (or overflows MaxPending) gets here out of order.
                if (next.Ts < _lastEmitted) Stats.Add(_hRegressions);
                _lastEmitted = next.Ts;
                if (Release(next, ref dest[n])) n++;
                continue;
            }
            if (_eof) break;
            if (_pos - _dropped >= DropEvery)
            {
                // Keep peak RSS flat: release the mapped bytes of every record already emitted.
                _dropped = _orderer.OldestOffset(_pos);
                _map.DoneBefore(_dropped);
            }
            ScanRound();
        }
        return n;
    }

    /// <summary>
    /// First pass: walks records up to the next FINISHED_ROUND (or the end), queueing each record that yields an event
    /// or changes a task name by its time and offset, and moves the release limit.
    /// </summary>
    void ScanRound()
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
                case RecordSample:
                    if (ParseSample(rec, out var sample))
                        Queue(sample.Cpu, new RoundOrderer.Entry { Ts = sample.Time, Offset = at, RawAt = sample.RawAt, RawLength = sample.RawLength, Tid = sample.Tid, HasTid = sample.HasTid, Cpu = (ushort)sample.Cpu });
                    break;
                case RecordComm:
                case RecordFork:
                case RecordLost:
                case RecordLostSamples:
                    if (rec.Length < MinLength(type)) { Stats.Add(_hMalformed); break; }
                    long time = type == RecordFork ? (long)Endian.U64(rec.Slice(24, 8), _file.BigEndian) : TrailerTime(rec);
                    Queue(TrailerCpu(rec), new RoundOrderer.Entry { Ts = time, Offset = at });
                    break;
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

    static int MinLength(uint type) => type switch { RecordComm => 17, RecordFork => 32, RecordLost => 24, _ => 16 };

    void Queue(int cpu, in RoundOrderer.Entry entry)
    {
        if (entry.Ts > _maxTs) _maxTs = entry.Ts;
        _lastTs = entry.Ts;
        _orderer.Add(cpu, entry);
    }

    /// <summary>Second pass, in time order: decodes the queued record <paramref name="q"/> into <paramref name="e"/>
    /// (true) or applies it to the task names (false).</summary>
    bool Release(in RoundOrderer.Entry q, ref TraceEvent e)
    {
        long offset = q.Offset;
        var hdr = _map.Span(offset, 8);
        uint type = Endian.U32(hdr, _file.BigEndian);
        int size = (int)Endian.Read(hdr, 6, 2, false, _file.BigEndian);
        var rec = _map.Span(offset, size);
        switch (type)
        {
            case RecordSample:
                e = default;
                switch (_decoder!.Decode(rec.Slice(q.RawAt, q.RawLength), ref e, out var name))
                {
                    case RawEventDecoder.Result.Ok:
                        e.TsNs = q.Ts;
                        e.Cpu = q.Cpu;
                        if (q.HasTid) { e.Pid = q.Tid; e.Fields |= EventFields.Pid; }
                        if (e.Has(EventFields.Pid)) { e.CommId = _pidComms.Get(e.Pid); e.Fields |= EventFields.Comm; }
                        Stats.Add(_hEvents);
                        return true;
                    case RawEventDecoder.Result.Other: Stats.OtherEvents.Add(name); return false;
                    case RawEventDecoder.Result.Unknown: Stats.Add(_hUnknownId); return false;
                    default: Stats.Add(_hMalformed); return false;
                }
            case RecordComm:
            {
                // {u32 pid, u32 tid, char comm[]} + sample_id
                int tid = (int)Endian.U32(rec.Slice(12, 4), _file.BigEndian);
                var str = rec[16..];
                int nul = str.IndexOf((byte)0);
                if (nul < 0) { Stats.Add(_hMalformed); return false; }
                _pidComms.Set(tid, System.Text.Encoding.UTF8.GetString(str[..nul]));
                return false;
            }
            case RecordFork:
            {
                // {u32 pid, ppid, tid, ptid; u64 time}: the child starts with its parent's comm (perf's thread__fork).
                int tid = (int)Endian.U32(rec.Slice(16, 4), _file.BigEndian);
                int ptid = (int)Endian.U32(rec.Slice(20, 4), _file.BigEndian);
                var parent = _pidComms.Name(ptid) ?? (ptid == 0 ? "swapper" : null);
                if (parent is not null) _pidComms.Set(tid, parent);
                return false;
            }
            default: // LOST {u64 id, u64 lost} / LOST_SAMPLES {u64 lost}
            {
                long lost = (long)Endian.U64(rec.Slice(type == RecordLost ? 16 : 8, 8), _file.BigEndian);
                e = default;
                e.Kind = EventKind.LostEvents; e.TsNs = TrailerTime(rec); e.Cpu = (ushort)Math.Max(TrailerCpu(rec), 0);
                e.Lost = lost; e.Fields = EventFields.Lost;
                Stats.Add(_hLostRecords);
                if (lost > 0) Stats.Add(_hLost, lost);
                return true;
            }
        }
    }

    struct SampleInfo
    {
        public long Time;
        public int Cpu, Tid, RawAt, RawLength;
        public bool HasTid;
    }

    /// <summary>Locates a sample's attr and the fields we use; walks every sample_type field, so unused ones are skipped
    /// correctly. Problems are counted.</summary>
    bool ParseSample(ReadOnlySpan<byte> rec, out SampleInfo s)
    {
        s = default;
        s.Time = _lastTs;
        bool big = _file.BigEndian;
        PerfAttr? attr = _single;
        if (_allIdentifier)
        {
            if (rec.Length < 16) { Stats.Add(_hMalformed); return false; }
            ulong id = Endian.U64(rec.Slice(8, 8), big);
            if (id == _lastId) attr = _lastAttr;
            else if (_byId.TryGetValue(id, out attr)) { _lastId = id; _lastAttr = attr; }
            else { Stats.Add(_hUnknownId); return false; }
        }
        else if (_idPosition >= 0 && attr is null)
        {
            int p = 8 + _idPosition * 8;
            if (rec.Length < p + 8) { Stats.Add(_hMalformed); return false; }
            if (!_byId.TryGetValue(Endian.U64(rec.Slice(p, 8), big), out attr)) { Stats.Add(_hUnknownId); return false; }
        }
        if (attr is null) { Stats.Add(_hUnknownId); return false; }
        ulong st = attr.SampleType;
        if (attr.FixedLayout && attr.RawAt >= 0 && rec.Length >= attr.RawAt + 4)
        {
            // Fixed layout: read the fields we need in place.
            if (attr.TidAt >= 0) { s.Tid = (int)Endian.U32(rec.Slice(attr.TidAt, 4), big); s.HasTid = true; }
            if (attr.TimeAt >= 0) s.Time = (long)Endian.U64(rec.Slice(attr.TimeAt, 8), big);
            if (attr.CpuAt >= 0) s.Cpu = (int)Endian.U32(rec.Slice(attr.CpuAt, 4), big);
            uint rsize = Endian.U32(rec.Slice(attr.RawAt, 4), big);
            if (rsize > rec.Length - attr.RawAt - 4 || (uint)s.Cpu > ushort.MaxValue) { Stats.Add(_hMalformed); return false; }
            s.RawAt = attr.RawAt + 4; s.RawLength = (int)rsize;
        }
        else
        {
            var c = new RecordCursor(rec, 8, big);
            if ((st & PerfDataFile.SampleIdentifier) != 0) c.U64();
            if ((st & PerfDataFile.SampleIp) != 0) c.U64();
            if ((st & PerfDataFile.SampleTid) != 0) { c.U32(); s.Tid = (int)c.U32(); s.HasTid = true; }
            if ((st & PerfDataFile.SampleTime) != 0) s.Time = (long)c.U64();
            if ((st & PerfDataFile.SampleAddr) != 0) c.U64();
            if ((st & PerfDataFile.SampleId) != 0) c.U64();
            if ((st & PerfDataFile.SampleStreamId) != 0) c.U64();
            if ((st & PerfDataFile.SampleCpu) != 0) { s.Cpu = (int)c.U32(); c.U32(); }
            if ((st & PerfDataFile.SamplePeriod) != 0) c.U64();
            if ((st & PerfDataFile.SampleRead) != 0) SkipRead(attr.ReadFormat, ref c);
            if ((st & PerfDataFile.SampleCallchain) != 0) c.Skip(c.U64(), 8);
            if ((st & PerfDataFile.SampleRaw) != 0) { uint rsize = c.U32(); s.RawAt = c.Position; c.Bytes(rsize); s.RawLength = (int)rsize; }
            if (!c.Ok || (uint)s.Cpu > ushort.MaxValue) { Stats.Add(_hMalformed); return false; }
        }
        if (attr.Type != PerfAttr.TypeTracepoint || (st & PerfDataFile.SampleRaw) == 0 || _decoder is null)
        {
            Stats.Add(_hNonTracepoint);
            return false;
        }
        return true;
    }

    ulong _lastId = ulong.MaxValue;
    PerfAttr? _lastAttr;

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
        public readonly int Position => _pos;

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

    /// <summary>
    /// The sample_id trailer of a non-sample record (sample_id_all): TID, TIME, ID, STREAM_ID, CPU, IDENTIFIER at the
    /// end of the record. Returns the offsets from the end of TIME and CPU (-1 when absent).
    /// </summary>
    (int TimeFromEnd, int CpuFromEnd) TrailerLayout()
    {
        var attr = _file.Attrs.Count > 0 ? _file.Attrs[0] : null;
        if (attr is null || !attr.SampleIdAll) return (-1, -1);
        ulong st = attr.SampleType;
        int size = 0;
        if ((st & PerfDataFile.SampleTid) != 0) size += 8;
        int timeAt = (st & PerfDataFile.SampleTime) != 0 ? size : -1;
        if (timeAt >= 0) size += 8;
        if ((st & PerfDataFile.SampleId) != 0) size += 8;
        if ((st & PerfDataFile.SampleStreamId) != 0) size += 8;
        int cpuAt = (st & PerfDataFile.SampleCpu) != 0 ? size : -1;
        if (cpuAt >= 0) size += 8;
        if ((st & PerfDataFile.SampleIdentifier) != 0) size += 8;
        return (timeAt < 0 ? -1 : size - timeAt, cpuAt < 0 ? -1 : size - cpuAt);
    }

    long TrailerTime(ReadOnlySpan<byte> rec)
    {
        int back = _trailer.TimeFromEnd;
        return back > 0 && rec.Length >= 8 + back ? (long)Endian.U64(rec.Slice(rec.Length - back, 8), _file.BigEndian) : _lastTs;
    }

    int TrailerCpu(ReadOnlySpan<byte> rec)
    {
        int back = _trailer.CpuFromEnd;
        return back > 0 && rec.Length >= 8 + back ? (int)Math.Min(Endian.U32(rec.Slice(rec.Length - back, 4), _file.BigEndian), ushort.MaxValue) : -1;
    }

    public void Dispose()
    {
        if (_ownsMap) _map.Dispose();
        _input.Dispose();
    }
}
