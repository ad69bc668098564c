using AsiTrace.Ingest.Input;

namespace AsiTrace.Ingest.Binary;

/// <summary>
/// One CPU's ring-buffer pages (docs/formats.md §8), read in place from the mapped file or from decompressed chunks
/// (trace.dat v7: §9.3). <see cref="Advance"/> steps to the next data event, applying time deltas, time extends,
/// absolute timestamps and padding; a page whose header says events were missed before it sets
/// <see cref="PendingLost"/>. Malformed pages and events are counted and skipped, never trusted.
/// </summary>
public sealed class RingBufferCpu
{
    const uint CommitMask = (1u << 27) - 1, MissedEvents = 1u << 31, MissedStored = 1u << 30;
    public int Cpu { get; }
    readonly MappedFile _map;
    readonly long _regionEnd;
    readonly int _pageSize, _dataOffset, _commitSize;
    readonly bool _big;
    readonly BlockDecompressor? _decompressor;

    // Compressed data: the current chunk and where the next one starts.
    byte[] _chunk = [];
    int _chunkLen, _chunkPos;
    uint _chunksLeft;
    long _nextChunk;

    // The current page: in the file (uncompressed) or in _chunk.
    long _nextPageFileOffset, _pageFileOffset;
    int _pageChunkOffset;
    int _pos, _dataEnd;
    ulong _ts;

    // Pages already read are released from the resident set every DropEvery bytes (MappedFile.DoneWith).
    const long DropEvery = 16 << 20;
    long _dropped;

    public long Ts { get; private set; }
    public int RecordOffset { get; private set; }
    public int RecordLength { get; private set; }
    public bool Exhausted { get; private set; }
    /// <summary>Set when the page of the current event follows lost events: the count, or -1 when unknown.</summary>
    public long? PendingLost { get; set; }
    public long Pages { get; private set; }
    public long MalformedPages { get; private set; }
    public long MalformedEvents { get; private set; }

    public RingBufferCpu(int cpu, MappedFile map, long offset, long size, int pageSize, int dataOffset, int commitSize, bool bigEndian, BlockDecompressor? decompressor)
    {
        Cpu = cpu; _map = map; _regionEnd = offset + size;
        _pageSize = pageSize; _dataOffset = dataOffset; _commitSize = commitSize; _big = bigEndian;
        _decompressor = decompressor;
        _nextPageFileOffset = offset;
        _dropped = offset;
        if (decompressor is not null)
        {
            // The recorded size counts the chunks, not the u32 chunk count in front of them (trace-cmd 3.1.6).
            _regionEnd = Math.Min(map.Length, offset + 4 + size);
            var c = new BinaryCursor(map.Span(offset, 4), offset, map.Name, bigEndian);
            _chunksLeft = c.U32("CPU data chunk count");
            _nextChunk = offset + 4;
        }
    }

    /// <summary>The current page: valid until the next <see cref="Advance"/>.</summary>
    public ReadOnlySpan<byte> Page => _decompressor is null ? _map.Span(_pageFileOffset, _pageSize) : _chunk.AsSpan(_pageChunkOffset, _pageSize);

    public ReadOnlySpan<byte> Record => Page.Slice(RecordOffset, RecordLength);

    /// <summary>Moves to the next data event; false when this CPU has no more.</summary>
    public bool Advance()
    {
        if (Exhausted) return false;
        var page = _pos < _dataEnd ? Page : default;
        while (true)
        {
            if (_pos >= _dataEnd)
            {
                if (!LoadPage()) { Exhausted = true; return false; }
                page = Page;
                continue;
            }
            if (_dataEnd - _pos < 4) { MalformedEvents++; _pos = _dataEnd; continue; }
            uint hdr = Endian.U32(page.Slice(_pos, 4), _big);
            int typeLen; uint delta;
            if (_big) { typeLen = (int)(hdr >> 27); delta = hdr & 0x07FFFFFF; }
            else { typeLen = (int)(hdr & 31); delta = hdr >> 5; }
            if (typeLen is >= 1 and <= 28)
            {
                int len = typeLen * 4;
                if (len > _dataEnd - _pos - 4) { MalformedEvents++; _pos = _dataEnd; continue; }
                _ts += delta;
                RecordOffset = _pos + 4; RecordLength = len;
                _pos += 4 + len;
                Ts = (long)_ts;
                return true;
            }
            if (typeLen == 29 && delta == 0) { _pos = _dataEnd; continue; } // padding: rest of the page unused
            if (_dataEnd - _pos < 8) { MalformedEvents++; _pos = _dataEnd; continue; }
            uint array0 = Endian.U32(page.Slice(_pos + 4, 4), _big);
            switch (typeLen)
            {
                case 29: // discarded event: array[0] bytes from the start of array[0]; its delta counts
                    if (array0 < 4 || array0 > _dataEnd - _pos - 4) { MalformedEvents++; _pos = _dataEnd; continue; }
                    _ts += delta;
                    _pos += 4 + (int)array0;
                    continue;
                case 30: // time extend
                    _ts += ((ulong)array0 << 27) + delta;
                    _pos += 8;
                    continue;
                case 31: // absolute timestamp: low 59 bits; the top bits come from the running time
                    ulong abs = ((ulong)array0 << 27) | delta;
                    _ts = abs | (_ts & ~((1UL << 59) - 1));
                    _pos += 8;
                    continue;
                default: // 0: length in array[0], counting its own 4 bytes
                    if (array0 < 4) { MalformedEvents++; _pos = _dataEnd; continue; }
                    int payload = (int)Math.Min(array0 - 4, int.MaxValue - 3);
                    int aligned = (payload + 3) & ~3;
                    if (aligned > _dataEnd - _pos - 8) { MalformedEvents++; _pos = _dataEnd; continue; }
                    _ts += delta;
                    RecordOffset = _pos + 8; RecordLength = payload;
                    _pos += 8 + aligned;
                    Ts = (long)_ts;
                    return true;
            }
        }
    }

    bool LoadPage()
    {
        while (true)
        {
            ReadOnlySpan<byte> page;
            if (_decompressor is null)
            {
                if (_nextPageFileOffset >= _regionEnd) return false;
                if (_regionEnd - _nextPageFileOffset < _pageSize)
                {
                    // A partial page at the end of the CPU's data: a truncated file.
                    MalformedPages++;
                    _nextPageFileOffset = _regionEnd;
                    return false;
                }
                _pageFileOffset = _nextPageFileOffset;
                _nextPageFileOffset += _pageSize;
                if (_pageFileOffset - _dropped >= DropEvery) { _map.DoneWith(_dropped, _pageFileOffset); _dropped = _pageFileOffset; }
                page = _map.Span(_pageFileOffset, _pageSize);
            }
            else
            {
                if (_chunkPos + _pageSize > _chunkLen && !LoadChunk()) return false;
                _pageChunkOffset = _chunkPos;
                _chunkPos += _pageSize;
                page = _chunk.AsSpan(_pageChunkOffset, _pageSize);
            }
            Pages++;
            ulong ts = Endian.U64(page, _big);
            uint commit = (uint)Endian.Read(page, 8, _commitSize, false, _big);
            int size = (int)(commit & CommitMask);
            if (size > _pageSize - _dataOffset) { MalformedPages++; continue; }
            if ((commit & MissedEvents) != 0)
            {
                long lost = -1;
                if ((commit & MissedStored) != 0 && _dataOffset + size + _commitSize <= _pageSize)
                    lost = (long)Endian.Read(page, _dataOffset + size, _commitSize, false, _big);
                PendingLost = PendingLost is null ? lost : (PendingLost < 0 || lost < 0 ? -1 : PendingLost + lost);
            }
            _ts = ts;
            _pos = _dataOffset;
            _dataEnd = _dataOffset + size;
            return true;
        }
    }

    bool LoadChunk()
    {
        while (true)
        {
            if (_chunksLeft == 0 || _nextChunk >= _regionEnd) return false;
            _chunksLeft--;
            if (_regionEnd - _nextChunk < 8)
                throw new InvalidTraceException(_map.Name, $"byte {_nextChunk}", $"CPU {Cpu}: chunk header past the end of the CPU's data");
            var h = new BinaryCursor(_map.Span(_nextChunk, 8), _nextChunk, _map.Name, _big);
            uint csize = h.U32("chunk compressed size"), usize = h.U32("chunk uncompressed size");
            long dataAt = _nextChunk + 8;
            if (csize > _regionEnd - dataAt)
                throw new InvalidTraceException(_map.Name, $"byte {_nextChunk}", $"CPU {Cpu}: chunk of {csize} compressed bytes runs past the CPU's data");
            if (usize > BlockDecompressor.PlausibleLimit(csize))
                throw new InvalidTraceException(_map.Name, $"byte {_nextChunk + 4}", $"CPU {Cpu}: chunk claims {usize} uncompressed bytes from {csize} compressed (limit {BlockDecompressor.PlausibleLimit(csize)})");
            if (_chunk.Length < usize) _chunk = new byte[Math.Max(usize, (uint)_pageSize)];
            _decompressor!.Decompress(_map.Span(dataAt, (int)csize), _chunk.AsSpan(0, (int)usize), dataAt);
            _nextChunk = dataAt + csize;
            if (_nextChunk - _dropped >= DropEvery) { _map.DoneWith(_dropped, _nextChunk); _dropped = _nextChunk; }
            _chunkLen = (int)usize;
            _chunkPos = 0;
            if (usize % _pageSize != 0) MalformedPages++;
            if (_chunkLen >= _pageSize) return true;
        }
    }
}
