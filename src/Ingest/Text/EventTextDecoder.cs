using AsiTrace.Ingest.Canonical;

namespace AsiTrace.Ingest.Text;

/// <summary>
/// Decodes the event text of each schema kind, field by field, from every rendering we have seen: the kernel's
/// print fmt (all versions since 2.6.33), trace-cmd's plugins and <c>-R</c> raw fields, the <c>fields=1</c> option,
/// and perf script. Fields are found by name, so extra vendor fields are ignored and missing ones stay unset.
/// Version rules (docs/formats.md §3):
/// <list type="bullet">
/// <item>pfn: decimal before v5.14, <c>0x</c> hex since; a failed allocation prints <c>pfn=0x0</c> / <c>page=(null)</c> (text)
///   or all-ones (raw fields) and gets no pfn.</item>
/// <item>mm_page_free_batched prints a literal <c>order=0</c> (and <c>cold=</c> before ~v4.15): it has no order field, so none is set.</item>
/// <item>tlb_flush: <c>pages:N reason:TEXT (N)</c> (kernel, perf), <c>pages=N reason=TEXT (N)</c> (trace-cmd), <c>reason=N pages=N</c> (-R);
///   the number in parentheses wins; without it (3.17–4.2) the text is matched case-insensitively.</item>
/// <item>sched_switch: kernel <c>prev_comm=… prev_pid=… prev_state=S ==> …</c>, trace-cmd <c>a:1 [120] S ==> b:2 [120]</c>, -R numeric state.</item>
/// <item>filemap: <c>dev M:m ino HEX … ofs=BYTES</c> (kernel) or <c>i_ino=HEX index=N s_dev=N</c> (-R).</item>
/// </list>
/// </summary>
public sealed class EventTextDecoder(GfpTextDecoder gfp)
{
    public GfpTextDecoder Gfp => gfp;
    /// <summary>Off only in tests, which check the positional fast path against the key/value decoder.</summary>
    internal bool FastPaths { get; init; } = true;

    /// <summary>Fills the kind-specific fields of <paramref name="e"/>; false when a required field is missing or malformed.</summary>
    public bool Decode(EventKind kind, ReadOnlySpan<byte> text, ref TraceEvent e)
    {
        switch (kind)
        {
            case EventKind.MmPageAlloc:
            case EventKind.MmPageAllocZoneLocked:
            case EventKind.MmPageFree:
            case EventKind.MmPagePcpuDrain:
            case EventKind.MmPageFreeBatched:
                return (FastPaths && KmemFastPath.TryDecode(kind, text, gfp, ref e)) || DecodeKmem(kind, text, ref e);
            case EventKind.MmPageAllocExtfrag:
                return DecodeKmem(kind, text, ref e);
            case EventKind.TlbFlush: return DecodeTlbFlush(text, ref e);
            case EventKind.SchedSwitch: return DecodeSchedSwitch(text, ref e);
            case EventKind.MmFilemapAddToPageCache:
            case EventKind.MmFilemapDeleteFromPageCache:
                return DecodeFilemap(text, ref e);
            case EventKind.SysRead:
            case EventKind.SysWrite:
                return DecodeSyscallCount(text, ref e);
            case EventKind.MmMigratePages: return DecodeMigratePages(text, ref e);
            // Kernel entries and returns: the replay needs only when, where and which task.
            case EventKind.SysEnter:
            case EventKind.SysExit:
            case EventKind.PageFaultUser:
            case EventKind.KvmExit:
            case EventKind.KvmEntry:
                return true;
            default: return false;
        }
    }

    /// <summary><c>nr_succeeded=N nr_failed=… mode=… reason=compaction</c> (v5.14+; older kernels print <c>succeeded=</c>).</summary>
    static bool DecodeMigratePages(ReadOnlySpan<byte> text, ref TraceEvent e)
    {
        var kv = new KeyValues(text);
        while (kv.Next())
        {
            var k = kv.Key; var v = kv.Value;
            if (k.SequenceEqual("nr_succeeded"u8) || k.SequenceEqual("succeeded"u8))
            {
                if (!SpanNumber.TryParseAuto(v, out ulong n) || n > int.MaxValue) return false;
                e.MigratedPages = (long)n; e.Fields |= EventFields.MigratedPages;
            }
            else if (k.SequenceEqual("reason"u8)) { e.MigrateReason = MigrateReasons.Parse(v); e.Fields |= EventFields.MigrateReason; }
        }
        return e.Has(EventFields.MigratedPages);
    }

    bool DecodeKmem(EventKind kind, ReadOnlySpan<byte> text, ref TraceEvent e)
    {
        var kv = new KeyValues(text);
        bool nullPage = false, havePfn = false;
        ulong pfn = 0;
        while (kv.Next())
        {
            var k = kv.Key; var v = kv.Value;
            switch (k.Length)
            {
                case 3:
                    if (k.SequenceEqual("pfn"u8))
                    {
                        if (!SpanNumber.TryParseAuto(v, out pfn)) return false;
                        havePfn = true;
                    }
                    break;
                case 4:
                    if (k.SequenceEqual("page"u8))
                        nullPage = v.SequenceEqual("(null)"u8) || v.SequenceEqual("0000000000000000"u8) || v.SequenceEqual("(nil)"u8);
                    break;
                case 5:
                    if (k.SequenceEqual("order"u8) && kind != EventKind.MmPageFreeBatched)
                    {
                        if (!SpanNumber.TryParseAuto(v, out ulong o) || o > 63) return false;
                        e.Order = (byte)o; e.Fields |= EventFields.Order;
                    }
                    break;
                case 9:
                    if (k.SequenceEqual("gfp_flags"u8))
                    {
                        if (!gfp.TryDecode(v, out e.Gfp)) return false;
                        e.Fields |= EventFields.Gfp;
                    }
                    break;
                case 11:
                    if (k.SequenceEqual("migratetype"u8))
                    {
                        if (!TryInt8(v, out e.Migratetype)) return false;
                        e.Fields |= EventFields.Migratetype;
                    }
                    else if (k.SequenceEqual("alloc_order"u8))
                    {
                        if (!SpanNumber.TryParseAuto(v, out ulong o) || o > 63) return false;
                        e.Order = (byte)o; e.Fields |= EventFields.Order;
                    }
                    break;
                case 13:
                    if (k.SequenceEqual("percpu_refill"u8))
                    {
                        if (!SpanNumber.TryParseAuto(v, out ulong r)) return false;
                        e.PercpuRefill = r != 0 ? (byte)1 : (byte)0; e.Fields |= EventFields.PercpuRefill;
                    }
                    break;
                case 14:
                    if (k.SequenceEqual("fallback_order"u8))
                    {
                        if (!TryInt8(v, out e.FallbackOrder)) return false;
                        e.Fields |= EventFields.FallbackOrder;
                    }
                    break;
                case 16:
                    if (k.SequenceEqual("change_ownership"u8))
                    {
                        if (!SpanNumber.TryParseAuto(v, out ulong c)) return false;
                        e.ChangeOwnership = c != 0 ? (byte)1 : (byte)0; e.Fields |= EventFields.ChangeOwnership;
                    }
                    break;
                case 17:
                    if (k.SequenceEqual("alloc_migratetype"u8))
                    {
                        if (!TryInt8(v, out e.AllocMigratetype)) return false;
                        e.Fields |= EventFields.AllocMigratetype;
                    }
                    break;
                case 20:
                    if (k.SequenceEqual("fallback_migratetype"u8))
                    {
                        if (!TryInt8(v, out e.FallbackMigratetype)) return false;
                        e.Fields |= EventFields.FallbackMigratetype;
                    }
                    break;
            }
        }
        if (!havePfn) return false;
        // A failed allocation: text prints pfn 0 (pfn 0 is never handed out on x86) or a NULL page; raw fields print -1.
        bool failed = pfn == ulong.MaxValue || (pfn == 0 && (nullPage || kind is EventKind.MmPageAlloc or EventKind.MmPageAllocZoneLocked));
        if (!failed) { e.Pfn = pfn; e.Fields |= EventFields.Pfn; }
        else if (kind is not (EventKind.MmPageAlloc or EventKind.MmPageAllocZoneLocked)) return false;
        return true;
    }

    static bool TryInt8(ReadOnlySpan<byte> v, out sbyte value)
    {
        value = 0;
        if (!SpanNumber.TryParseAuto(v, out ulong u)) return false;
        long l = (long)u;
        if (l < sbyte.MinValue || l > sbyte.MaxValue)
        {
            // fields=1 prints an int as 0xffffffff: take the low 32 bits as signed.
            l = (int)(uint)u;
            if (l < sbyte.MinValue || l > sbyte.MaxValue) return false;
        }
        value = (sbyte)l;
        return true;
    }

    static bool DecodeTlbFlush(ReadOnlySpan<byte> text, ref TraceEvent e)
    {
        int p = IndexOfKey(text, "pages"u8);
        int r = IndexOfKey(text, "reason"u8);
        if (p < 0 || r < 0) return false;
        // pages value: up to the next blank
        var pv = text[(p + 6)..];
        int sp = pv.IndexOf((byte)' ');
        if (sp >= 0) pv = pv[..sp];
        if (!SpanNumber.TryParseAuto(pv, out ulong pages)) return false;
        e.TlbPages = (long)pages;
        e.Fields |= EventFields.TlbPages;
        // reason value: the rest up to " pages" when reason comes first (-R), else to the end.
        var rv = text[(r + 7)..];
        if (r < p) rv = text[(r + 7)..(p > r + 7 ? p : r + 7)];
        rv = rv.Trim((byte)' ');
        if (!rv.IsEmpty && rv[^1] == ')')
        {
            int open = rv.LastIndexOf((byte)'(');
            if (open < 0 || !SpanNumber.TryParseAuto(rv[(open + 1)..^1], out ulong code) || code > 255) return false;
            e.TlbReason = (byte)code;
        }
        else if (SpanNumber.TryParseAuto(rv, out ulong code2) && code2 <= 255) e.TlbReason = (byte)code2;
        else if (TlbReasonNames.TryParse(rv, out byte byName)) e.TlbReason = byName;
        else return false;
        e.Fields |= EventFields.TlbReason;
        return true;
    }

    /// <summary>Position of <c>key:</c> or <c>key=</c> at a token start.</summary>
    static int IndexOfKey(ReadOnlySpan<byte> text, ReadOnlySpan<byte> key)
    {
        int from = 0;
        while (true)
        {
            int i = text[from..].IndexOf(key);
            if (i < 0) return -1;
            i += from;
            int after = i + key.Length;
            if ((i == 0 || text[i - 1] == ' ') && after < text.Length && (text[after] == ':' || text[after] == '=')) return i;
            from = i + 1;
        }
    }

    static bool DecodeSchedSwitch(ReadOnlySpan<byte> text, ref TraceEvent e)
    {
        int pp = IndexOfKey(text, "prev_pid"u8);
        if (pp >= 0)
        {
            int np = IndexOfKey(text, "next_pid"u8);
            int ps = IndexOfKey(text, "prev_state"u8);
            if (np < 0 || !TryIntToken(text[(pp + 9)..], out e.PrevPid) || !TryIntToken(text[(np + 9)..], out e.NextPid)) return false;
            e.Fields |= EventFields.PrevPid | EventFields.NextPid;
            if (ps >= 0)
            {
                var sv = text[(ps + 11)..];
                int sp = sv.IndexOf((byte)' ');
                if (sp >= 0) sv = sv[..sp];
                if (!SchedState.TryParse(sv, out e.PrevState)) return false;
                e.Fields |= EventFields.PrevState;
            }
            return true;
        }
        // trace-cmd plugin: "prev_comm:prev_pid [prev_prio] STATE ==> next_comm:next_pid [next_prio]"
        int arrow = text.IndexOf(" ==> "u8);
        if (arrow < 0) return false;
        var left = text[..arrow].TrimEnd((byte)' ');
        var right = text[(arrow + 5)..].TrimEnd((byte)' ');
        int lsp = left.LastIndexOf((byte)' ');
        if (lsp < 0 || !SchedState.TryParse(left[(lsp + 1)..], out e.PrevState)) return false;
        left = left[..lsp];
        int lbr = left.LastIndexOf(" ["u8);
        if (lbr < 0) return false;
        left = left[..lbr];
        int rbr = right.LastIndexOf(" ["u8);
        if (rbr < 0) return false;
        right = right[..rbr];
        int lc = left.LastIndexOf((byte)':'), rc = right.LastIndexOf((byte)':');
        if (lc < 0 || rc < 0) return false;
        if (!TryIntToken(left[(lc + 1)..], out e.PrevPid) || !TryIntToken(right[(rc + 1)..], out e.NextPid)) return false;
        e.Fields |= EventFields.PrevPid | EventFields.NextPid | EventFields.PrevState;
        return true;
    }

    static bool TryIntToken(ReadOnlySpan<byte> v, out int value)
    {
        int sp = v.IndexOf((byte)' ');
        if (sp >= 0) v = v[..sp];
        value = 0;
        if (!SpanNumber.TryParseAuto(v, out ulong u)) return false;
        long l = (long)u;
        if (l > int.MaxValue || l < int.MinValue) l = (int)(uint)u;
        value = (int)l;
        return true;
    }

    static bool DecodeFilemap(ReadOnlySpan<byte> text, ref TraceEvent e)
    {
        var kv = new KeyValues(text);
        bool havePfn = false;
        ulong ofsBytes = 0; bool haveOfs = false;
        while (kv.Next())
        {
            var k = kv.Key; var v = kv.Value;
            // Some kernels print the order as "order=(4)"; the number is the same.
            if (v.Length > 2 && v[0] == '(' && v[^1] == ')') v = v[1..^1];
            if (k.IsEmpty)
            {
                if (v.SequenceEqual("dev"u8))
                {
                    if (!kv.Next()) return false;
                    int c = kv.Value.IndexOf((byte)':');
                    if (c < 0 || !SpanNumber.TryParseDec(kv.Value[..c], out ulong major) || !SpanNumber.TryParseDec(kv.Value[(c + 1)..], out ulong minor)
                        || major > 0xfff || minor > 0xfffff) return false;
                    e.Dev = (uint)((major << 20) | minor); e.Fields |= EventFields.Dev;
                }
                else if (v.SequenceEqual("ino"u8))
                {
                    if (!kv.Next() || !TryHex(kv.Value, out e.Ino)) return false;
                    e.Fields |= EventFields.Ino;
                }
                continue;
            }
            if (k.SequenceEqual("pfn"u8)) { if (!SpanNumber.TryParseAuto(v, out e.Pfn)) return false; havePfn = true; }
            else if (k.SequenceEqual("ofs"u8)) { if (!SpanNumber.TryParseAuto(v, out ofsBytes)) return false; haveOfs = true; }
            else if (k.SequenceEqual("index"u8)) { if (!SpanNumber.TryParseAuto(v, out e.Index)) return false; e.Fields |= EventFields.Index; }
            else if (k.SequenceEqual("i_ino"u8)) { if (!TryHex(v, out e.Ino)) return false; e.Fields |= EventFields.Ino; }
            else if (k.SequenceEqual("s_dev"u8)) { if (!SpanNumber.TryParseAuto(v, out ulong d) || d > uint.MaxValue) return false; e.Dev = (uint)d; e.Fields |= EventFields.Dev; }
            else if (k.SequenceEqual("order"u8)) { if (!SpanNumber.TryParseAuto(v, out ulong o) || o > 63) return false; e.Order = (byte)o; e.Fields |= EventFields.Order; }
        }
        if (!havePfn) return false;
        e.Fields |= EventFields.Pfn;
        // ofs is index << PAGE_SHIFT (4 KiB pages on x86_64).
        if (haveOfs && !e.Has(EventFields.Index)) { e.Index = ofsBytes >> 12; e.Fields |= EventFields.Index; }
        return true;
    }

    static bool TryHex(ReadOnlySpan<byte> v, out ulong value)
    {
        if (v.Length > 2 && v[0] == '0' && (v[1] | 0x20) == 'x') v = v[2..];
        return SpanNumber.TryParseHex(v, out value);
    }

    /// <summary>
    /// The <c>count</c> argument of a read/write syscall entry. Syscall arguments print in hex: tracefs as
    /// <c>(fd: 3, buf: 7ffd…, count: 1000)</c> without a prefix (kernel/trace/trace_syscalls.c, "%s: 0x%lx" in newer
    /// kernels), trace-cmd and perf as <c>count: 0x00001000</c>.
    /// </summary>
    static bool DecodeSyscallCount(ReadOnlySpan<byte> text, ref TraceEvent e)
    {
        int k = text.IndexOf("count: "u8);
        if (k < 0) return false;
        var v = text[(k + 7)..];
        int end = v.IndexOfAny((byte)',', (byte)')', (byte)' ');
        if (end >= 0) v = v[..end];
        if (v.Length > 2 && v[0] == '0' && (v[1] | 0x20) == 'x') v = v[2..];
        if (!SpanNumber.TryParseHex(v, out ulong count) || count > long.MaxValue) return false;
        e.Bytes = (long)count;
        e.Fields |= EventFields.Bytes;
        return true;
    }
}
