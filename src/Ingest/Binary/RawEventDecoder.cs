using System.Text;
using AsiTrace.Ingest.Canonical;
using AsiTrace.Ingest.Formats;
using AsiTrace.Ingest.Text;

namespace AsiTrace.Ingest.Binary;

/// <summary>
/// Decodes binary event records (docs/formats.md §1: common header, then the event's fields) into canonical events,
/// every field located through the format description the file carries — never a hard-coded id or offset. Gfp bits are
/// named with the trace's own <c>__print_flags</c> table and sched_switch states with its own state letters, so a
/// trace of any kernel decodes to the same canonical values its text rendering gives.
/// </summary>
public sealed class RawEventDecoder
{
    readonly struct Field(FormatField? f)
    {
        public readonly int Offset = f?.Offset ?? 0;
        public readonly int Size = f is null || f.IsArray || f.IsDataLoc || f.IsRelLoc || f.Size is not (1 or 2 or 4 or 8) ? 0 : f.Size;
        public readonly bool Signed = f?.Signed ?? false;
        public bool Present => Size > 0;
    }

    sealed class Layout
    {
        public EventKind Kind;
        public byte[] Name = [];
        public Field Pid, Pfn, Order, Gfp, Mt, Refill, FallbackOrder, AllocMt, FallbackMt, ChangeOwnership,
            TlbPages, TlbReason, PrevPid, NextPid, PrevState, Ino, Index, Dev, Count, Migrated, MigrateReason;
        public int MinLength;
    }

    readonly Layout?[] _byId;
    readonly bool _big;
    readonly GfpTable _gfp;
    readonly ulong[] _stateBitToCanonical = new ulong[64];
    readonly bool _stateIdentity = true;
    ulong _lastGfpRaw = ulong.MaxValue, _lastGfp;

    /// <summary>tlb_flush reason numbers and names from the trace's own <c>__print_symbolic</c>, when it has one.</summary>
    public List<(ulong Value, string Name)>? TlbReasons { get; private set; }

    /// <summary>A note when the trace names tlb_flush reasons differently from <see cref="TlbReasonNames"/> (the canonical
    /// value is the kernel's number either way, so this only tells the user which names their kernel used).</summary>
    public string? TlbReasonNote()
    {
        if (TlbReasons is null) return null;
        var diff = new List<string>();
        foreach (var (v, name) in TlbReasons)
            if (v >= (ulong)TlbReasonNames.Names.Length || !string.Equals(TlbReasonNames.Names[v], name, StringComparison.OrdinalIgnoreCase))
                diff.Add($"{v}={name}");
        return diff.Count == 0 ? null : "tlb_flush reasons named by this kernel differently from the built-in table: " + string.Join(", ", diff);
    }

    /// <summary>Where gfp names came from: the trace's own print fmt, or the fallback table.</summary>
    public string GfpSource => _gfp.Source;
    public GfpTable Gfp => _gfp;

    public RawEventDecoder(IReadOnlyDictionary<int, EventFormat> formats, bool bigEndian, int longSize, Func<GfpTable> fallbackGfpTable, string origin)
    {
        _big = bigEndian;
        int maxId = 0;
        foreach (var id in formats.Keys) maxId = Math.Max(maxId, id);
        _byId = new Layout?[Math.Min(maxId, 65535) + 1];
        GfpTable? own = null;
        foreach (var (id, f) in formats)
        {
            if (id < 0 || id > 65535) continue;
            var kind = EventKinds.FromTracepoint(Encoding.UTF8.GetBytes(f.Name));
            var l = new Layout { Kind = kind, Name = Encoding.UTF8.GetBytes(f.Name), Pid = new(f.Field("common_pid")) };
            switch (kind)
            {
                case EventKind.MmPageAlloc:
                case EventKind.MmPageAllocZoneLocked:
                case EventKind.MmPageFree:
                case EventKind.MmPageFreeBatched:
                case EventKind.MmPagePcpuDrain:
                case EventKind.MmPageAllocExtfrag:
                    l.Pfn = new(f.Field("pfn"));
                    l.Order = new(kind == EventKind.MmPageAllocExtfrag ? f.Field("alloc_order") : kind == EventKind.MmPageFreeBatched ? null : f.Field("order"));
                    l.Gfp = new(f.Field("gfp_flags"));
                    l.Mt = new(f.Field("migratetype"));
                    l.Refill = new(f.Field("percpu_refill"));
                    l.FallbackOrder = new(f.Field("fallback_order"));
                    l.AllocMt = new(f.Field("alloc_migratetype"));
                    l.FallbackMt = new(f.Field("fallback_migratetype"));
                    l.ChangeOwnership = new(f.Field("change_ownership"));
                    if (kind == EventKind.MmPageAlloc && own is null)
                    {
                        var entries = PrintFmtTables.Find(f.PrintFmt, "__print_flags", "gfp_flags");
                        if (entries is { Count: > 0 }) own = new GfpTable($"format:{origin}:{f.System}/{f.Name}", entries.ConvertAll(x => (x.Name, x.Value)));
                    }
                    break;
                case EventKind.TlbFlush:
                    l.TlbPages = new(f.Field("pages"));
                    l.TlbReason = new(f.Field("reason"));
                    TlbReasons = PrintFmtTables.Find(f.PrintFmt, "__print_symbolic", "reason");
                    break;
                case EventKind.SchedSwitch:
                    l.PrevPid = new(f.Field("prev_pid"));
                    l.NextPid = new(f.Field("next_pid"));
                    l.PrevState = new(f.Field("prev_state"));
                    var states = PrintFmtTables.Find(f.PrintFmt, "__print_flags", "prev_state");
                    if (states is { Count: > 0 }) _stateIdentity = !BuildStateMap(states, _stateBitToCanonical);
                    break;
                case EventKind.SysRead:
                case EventKind.SysWrite:
                    l.Count = new(f.Field("count"));
                    break;
                case EventKind.MmMigratePages:
                    l.Migrated = new(f.Field("nr_succeeded") ?? f.Field("succeeded"));
                    l.MigrateReason = new(f.Field("reason"));
                    break;
                case EventKind.MmFilemapAddToPageCache:
                case EventKind.MmFilemapDeleteFromPageCache:
                    l.Pfn = new(f.Field("pfn"));
                    l.Ino = new(f.Field("i_ino"));
                    l.Index = new(f.Field("index"));
                    l.Dev = new(f.Field("s_dev"));
                    l.Order = new(f.Field("order"));
                    break;
            }
            int min = 0;
            foreach (var field in f.Fields) if (!field.IsDataLoc && !field.IsRelLoc) min = Math.Max(min, field.Offset + field.Size);
            l.MinLength = Math.Min(min, 65535);
            _byId[id] = l;
        }
        _gfp = own ?? fallbackGfpTable();
        _longMax = longSize == 4 ? uint.MaxValue : ulong.MaxValue;
    }

    readonly ulong _longMax;

    /// <summary>The kernel's state letters from the print fmt → canonical bits (see <see cref="SchedState"/>); the
    /// bit above the highest letter is the "+" of a preempted task (TASK_REPORT_MAX).</summary>
    static bool BuildStateMap(List<(ulong Value, string Name)> entries, ulong[] map)
    {
        ulong highest = 0;
        foreach (var (mask, name) in entries)
        {
            if (mask == 0 || (mask & (mask - 1)) != 0) continue;
            if (!SchedState.TryParse(Encoding.ASCII.GetBytes(name), out long canonical)) return false;
            map[System.Numerics.BitOperations.TrailingZeroCount(mask)] = (ulong)canonical;
            highest = Math.Max(highest, mask);
        }
        if (highest == 0 || highest >= 1UL << 62) return false;
        map[System.Numerics.BitOperations.TrailingZeroCount(highest << 1)] = 0x100;
        return true;
    }

    public enum Result : byte { Ok, Unknown, Other, Malformed }

    /// <summary>
    /// Decodes one record (common_type first) into <paramref name="e"/>'s pid and kind fields. <see cref="Result.Other"/>
    /// means an event outside the schema (its name is in <paramref name="name"/>); <see cref="Result.Unknown"/> an id
    /// without a format; <see cref="Result.Malformed"/> a record shorter than its format.
    /// </summary>
    public Result Decode(ReadOnlySpan<byte> rec, ref TraceEvent e, out ReadOnlySpan<byte> name)
    {
        name = default;
        if (rec.Length < 8) return Result.Malformed;
        int id = (int)Endian.Read(rec, 0, 2, false, _big);
        var l = (uint)id < (uint)_byId.Length ? _byId[id] : null;
        if (l is null) return Result.Unknown;
        name = l.Name;
        if (l.Kind == EventKind.None) return Result.Other;
        if (rec.Length < l.MinLength) return Result.Malformed;
        e.Kind = l.Kind;
        if (l.Pid.Present) { e.Pid = (int)Get(rec, l.Pid); e.Fields |= EventFields.Pid; }
        switch (l.Kind)
        {
            case EventKind.TlbFlush:
                if (!l.TlbPages.Present || !l.TlbReason.Present) return Result.Malformed;
                e.TlbPages = (long)Get(rec, l.TlbPages);
                ulong reason = Get(rec, l.TlbReason);
                if (reason > 255) return Result.Malformed;
                e.TlbReason = (byte)reason;
                e.Fields |= EventFields.TlbPages | EventFields.TlbReason;
                return Result.Ok;
            case EventKind.SchedSwitch:
                if (!l.PrevPid.Present || !l.NextPid.Present) return Result.Malformed;
                e.PrevPid = (int)Get(rec, l.PrevPid);
                e.NextPid = (int)Get(rec, l.NextPid);
                e.Fields |= EventFields.PrevPid | EventFields.NextPid;
                if (l.PrevState.Present)
                {
                    e.PrevState = MapState(Get(rec, l.PrevState));
                    e.Fields |= EventFields.PrevState;
                }
                return Result.Ok;
            case EventKind.SysEnter:
            case EventKind.SysExit:
            case EventKind.PageFaultUser:
            case EventKind.KvmExit:
            case EventKind.KvmEntry:
                return Result.Ok;
            case EventKind.MmMigratePages:
                if (!l.Migrated.Present) return Result.Malformed;
                ulong migrated = Get(rec, l.Migrated);
                if (migrated > int.MaxValue) return Result.Malformed;
                e.MigratedPages = (long)migrated; e.Fields |= EventFields.MigratedPages;
                if (l.MigrateReason.Present) { e.MigrateReason = (byte)Math.Min(Get(rec, l.MigrateReason), MigrateReasons.Unknown); e.Fields |= EventFields.MigrateReason; }
                return Result.Ok;
            case EventKind.SysRead:
            case EventKind.SysWrite:
                if (!l.Count.Present) return Result.Malformed;
                ulong count = Get(rec, l.Count);
                if (count > long.MaxValue) return Result.Malformed;
                e.Bytes = (long)count; e.Fields |= EventFields.Bytes;
                return Result.Ok;
            case EventKind.MmFilemapAddToPageCache:
            case EventKind.MmFilemapDeleteFromPageCache:
                if (!l.Pfn.Present) return Result.Malformed;
                e.Pfn = Get(rec, l.Pfn); e.Fields |= EventFields.Pfn;
                if (l.Ino.Present) { e.Ino = Get(rec, l.Ino); e.Fields |= EventFields.Ino; }
                if (l.Index.Present) { e.Index = Get(rec, l.Index); e.Fields |= EventFields.Index; }
                if (l.Dev.Present) { e.Dev = (uint)Get(rec, l.Dev); e.Fields |= EventFields.Dev; }
                if (l.Order.Present) { ulong o = Get(rec, l.Order); if (o > 63) return Result.Malformed; e.Order = (byte)o; e.Fields |= EventFields.Order; }
                return Result.Ok;
            default:
                return DecodeKmem(rec, l, ref e);
        }
    }

    Result DecodeKmem(ReadOnlySpan<byte> rec, Layout l, ref TraceEvent e)
    {
        // Kernels before v4.3 recorded a struct page pointer instead of a pfn; it cannot be turned into a pfn here.
        if (!l.Pfn.Present) return Result.Malformed;
        ulong pfn = Get(rec, l.Pfn);
        // A failed allocation records pfn -1UL (the text shows pfn=0 / page=(null)): no pfn.
        bool failed = pfn == _longMax;
        if (failed && l.Kind is not (EventKind.MmPageAlloc or EventKind.MmPageAllocZoneLocked)) return Result.Malformed;
        if (!failed) { e.Pfn = pfn; e.Fields |= EventFields.Pfn; }
        if (l.Order.Present) { ulong o = Get(rec, l.Order); if (o > 63) return Result.Malformed; e.Order = (byte)o; e.Fields |= EventFields.Order; }
        if (l.Gfp.Present)
        {
            ulong raw = Get(rec, l.Gfp);
            if (raw != _lastGfpRaw) { _lastGfpRaw = raw; _lastGfp = _gfp.FromKernelValue(raw); }
            e.Gfp = _lastGfp; e.Fields |= EventFields.Gfp;
        }
        if (l.Mt.Present) { if (!Int8(rec, l.Mt, out e.Migratetype)) return Result.Malformed; e.Fields |= EventFields.Migratetype; }
        if (l.Refill.Present) { e.PercpuRefill = Get(rec, l.Refill) != 0 ? (byte)1 : (byte)0; e.Fields |= EventFields.PercpuRefill; }
        if (l.FallbackOrder.Present) { if (!Int8(rec, l.FallbackOrder, out e.FallbackOrder)) return Result.Malformed; e.Fields |= EventFields.FallbackOrder; }
        if (l.AllocMt.Present) { if (!Int8(rec, l.AllocMt, out e.AllocMigratetype)) return Result.Malformed; e.Fields |= EventFields.AllocMigratetype; }
        if (l.FallbackMt.Present) { if (!Int8(rec, l.FallbackMt, out e.FallbackMigratetype)) return Result.Malformed; e.Fields |= EventFields.FallbackMigratetype; }
        if (l.ChangeOwnership.Present) { e.ChangeOwnership = Get(rec, l.ChangeOwnership) != 0 ? (byte)1 : (byte)0; e.Fields |= EventFields.ChangeOwnership; }
        return Result.Ok;
    }

    long MapState(ulong raw)
    {
        if (_stateIdentity) return (long)raw;
        ulong canonical = 0;
        while (raw != 0)
        {
            int bit = System.Numerics.BitOperations.TrailingZeroCount(raw);
            canonical |= _stateBitToCanonical[bit] != 0 ? _stateBitToCanonical[bit] : 1UL << bit; // a bit the table does not name stays as is
            raw &= raw - 1;
        }
        return (long)canonical;
    }

    /// <summary>Reads a field in place. Only called after <c>rec.Length &gt;= MinLength</c>, which covers every field of the
    /// format, so the unchecked read stays inside the record.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    ulong Get(ReadOnlySpan<byte> rec, Field f)
    {
        ref byte p = ref System.Runtime.CompilerServices.Unsafe.Add(ref System.Runtime.InteropServices.MemoryMarshal.GetReference(rec), f.Offset);
        switch (f.Size)
        {
            case 8:
            {
                ulong v = System.Runtime.CompilerServices.Unsafe.ReadUnaligned<ulong>(ref p);
                return _big ? System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(v) : v;
            }
            case 4:
            {
                uint v = System.Runtime.CompilerServices.Unsafe.ReadUnaligned<uint>(ref p);
                if (_big) v = System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(v);
                return f.Signed ? (ulong)(long)(int)v : v;
            }
            case 2:
            {
                ushort v = System.Runtime.CompilerServices.Unsafe.ReadUnaligned<ushort>(ref p);
                if (_big) v = System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(v);
                return f.Signed ? (ulong)(long)(short)v : v;
            }
            default:
                return f.Signed ? (ulong)(long)(sbyte)p : p;
        }
    }

    bool Int8(ReadOnlySpan<byte> rec, Field f, out sbyte v)
    {
        long x = (long)Get(rec, f);
        if (!f.Signed && f.Size < 8) x = f.Size switch { 1 => (sbyte)x, 2 => (short)x, _ => (int)x };
        v = (sbyte)x;
        return x >= sbyte.MinValue && x <= sbyte.MaxValue;
    }
}
