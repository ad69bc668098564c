using System.Runtime.CompilerServices;

namespace AsiTrace.Ingest.Text;

/// <summary>
/// Splits an event line into comm, pid, cpu, timestamp, event name and event text for each dialect.
/// Splits at the <c>[cpu]</c> column, never at the first dash: comms contain spaces, dashes and digits
/// (<c>.NET TP Worker-12313</c>, <c>memfd:sealed-91-2437</c>). Returns false for lines that are not events.
/// </summary>
public static class LineTokenizer
{
    public static bool TryTokenize(ReadOnlySpan<byte> line, TextDialect dialect, out LineTokens t)
    {
        t = default;
        return dialect switch
        {
            TextDialect.PerfScript => TryPerf(line, ref t),
            TextDialect.Latency => TryLatency(line, ref t),
            TextDialect.LatencyVerbose => TryLatencyVerbose(line, ref t),
            _ => TryFtrace(line, ref t),
        };
    }

    /// <summary>Finds the <c>[NNN]</c> cpu column: a '[' preceded by a blank or ')' and followed by digits and ']'.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static int FindCpuBracket(ReadOnlySpan<byte> line, out int cpu, out int close)
    {
        int from = 0;
        while (true)
        {
            int b = line[from..].IndexOf((byte)'[');
            if (b < 0) { cpu = 0; close = -1; return -1; }
            b += from;
            int i = b + 1; int v = 0; int digits = 0;
            while (i < line.Length && (uint)(line[i] - '0') <= 9 && digits < 6) { v = v * 10 + (line[i] - '0'); i++; digits++; }
            if (digits > 0 && i < line.Length && line[i] == ']' && b > 0 && (line[b - 1] == ' ' || line[b - 1] == ')'))
            {
                cpu = v; close = i; return b;
            }
            from = b + 1;
        }
    }

    static bool TryFtrace(ReadOnlySpan<byte> line, ref LineTokens t)
    {
        if (!TryTracefsColumns(line, ref t, out int close) && !TryGenericColumns(line, ref t, out close)) return false;
        return TimestampAndEvent(line, close, ref t);
    }

    /// <summary>
    /// The fixed columns tracefs prints (kernel/trace/trace_output.c, trace_print_context): <c>"%16s-%-7d [%03d] "</c>.
    /// A comm is at most 15 characters (TASK_COMM_LEN), so the dash is always at column 16 and the cpu bracket at 25
    /// while the pid has at most 7 digits. Anything else (tgid column, trace-cmd's widths, wider pids or cpus) takes
    /// the generic path.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static bool TryTracefsColumns(ReadOnlySpan<byte> line, ref LineTokens t, out int close)
    {
        close = 29;
        if (line.Length < 40 || line[16] != '-' || line[24] != ' ' || line[25] != '[' || line[29] != ']') return false;
        uint c0 = (uint)(line[26] - '0'), c1 = (uint)(line[27] - '0'), c2 = (uint)(line[28] - '0');
        if (c0 > 9 || c1 > 9 || c2 > 9) return false;
        int i = 17, pid = 0;
        while (i < 24 && (uint)(line[i] - '0') <= 9) { pid = pid * 10 + (line[i] - '0'); i++; }
        if (i == 17) return false;
        for (int k = i; k < 24; k++) if (line[k] != ' ') return false;
        var comm = line[..16];
        int start = comm.IndexOfAnyExcept((byte)' ');
        t.Comm = start < 0 ? default : comm[start..];
        t.Pid = pid;
        t.Cpu = (int)(c0 * 100 + c1 * 10 + c2);
        return true;
    }

    static bool TryGenericColumns(ReadOnlySpan<byte> line, ref LineTokens t, out int close)
    {
        int b = FindCpuBracket(line, out t.Cpu, out close);
        if (b < 0) return false;
        var left = line[..b].TrimEnd((byte)' ');
        if (!left.IsEmpty && left[^1] == ')')
        {
            // (tgid) column of record-tgid: "(  15332)" or "(-------)"
            int open = left.LastIndexOf((byte)'(');
            if (open < 0) return false;
            left = left[..open].TrimEnd((byte)' ');
        }
        return SplitCommDashPid(left, out t.Comm, out t.Pid);
    }

    static bool TimestampAndEvent(ReadOnlySpan<byte> line, int close, ref LineTokens t)
    {
        // tracefs's own layout (trace_print_context + lat_print_timestamp): "] " + 5 irq-flag characters + " " +
        // "%5llu.%06lu: ". One pass with fixed positions; anything else takes the general loop below.
        if (close == 29 && line.Length > 48 && line[30] == ' ' && line[36] == ' ')
        {
            int j = 37;
            while (j < line.Length && line[j] == ' ') j++;
            int s0 = j;
            ulong secs = 0;
            while (j < line.Length && (uint)(line[j] - '0') <= 9 && j - s0 < 12) { secs = secs * 10 + (uint)(line[j] - '0'); j++; }
            if (j > s0 && j + 9 < line.Length && line[j] == '.' && line[j + 7] == ':' && line[j + 8] == ' ')
            {
                uint d1 = (uint)(line[j + 1] - '0'), d2 = (uint)(line[j + 2] - '0'), d3 = (uint)(line[j + 3] - '0'),
                     d4 = (uint)(line[j + 4] - '0'), d5 = (uint)(line[j + 5] - '0'), d6 = (uint)(line[j + 6] - '0');
                if (d1 <= 9 && d2 <= 9 && d3 <= 9 && d4 <= 9 && d5 <= 9 && d6 <= 9 && secs <= 9_000_000_000UL)
                {
                    uint us = ((((d1 * 10 + d2) * 10 + d3) * 10 + d4) * 10 + d5) * 10 + d6;
                    t.TsNs = (long)(secs * 1_000_000_000UL + us * 1000UL); t.TsIsNs = true;
                    return SplitEvent(line[(j + 8)..], ref t);
                }
            }
        }
        // Optional flags column ("d..1." — any width, or none; never starting with a digit), then "<timestamp>:".
        // One scalar pass parses the timestamp while finding it.
        int i = close + 1;
        for (int token = 0; token < 2; token++)
        {
            while (i < line.Length && line[i] == ' ') i++;
            int start = i;
            ulong sec = 0;
            while (i < line.Length && (uint)(line[i] - '0') <= 9 && i - start < 19) { sec = sec * 10 + (uint)(line[i] - '0'); i++; }
            if (i > start && i + 1 < line.Length)
            {
                if (line[i] == ':' && line[i + 1] == ' ')
                {
                    if (sec > long.MaxValue) return false;
                    t.TsNs = (long)sec; t.TsIsNs = false;
                    return SplitEvent(line[(i + 1)..], ref t);
                }
                if (line[i] == '.')
                {
                    int fs = ++i;
                    ulong f = 0;
                    while (i < line.Length && (uint)(line[i] - '0') <= 9 && i - fs < 9) { f = f * 10 + (uint)(line[i] - '0'); i++; }
                    int fl = i - fs;
                    if (fl > 0 && i + 1 < line.Length && line[i] == ':' && line[i + 1] == ' ' && sec <= 9_000_000_000UL)
                    {
                        for (int k = fl; k < 9; k++) f *= 10;
                        t.TsNs = (long)(sec * 1_000_000_000UL + f); t.TsIsNs = true;
                        return SplitEvent(line[(i + 1)..], ref t);
                    }
                }
            }
            while (i < line.Length && line[i] != ' ') i++;
        }
        return false;
    }

    /// <summary><c>comm-pid</c>: the pid is the digits after the last '-'; <c>&lt;...&gt;</c> and <c>&lt;idle&gt;</c> are kept as printed.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static bool SplitCommDashPid(ReadOnlySpan<byte> left, out ReadOnlySpan<byte> comm, out int pid)
    {
        comm = default; pid = 0;
        // Backwards over the pid digits to the dash (scalar: the pid is at most 7 digits).
        int i = left.Length;
        uint p = 0, scale = 1;
        while (i > 0 && (uint)(left[i - 1] - '0') <= 9)
        {
            if (left.Length - i >= 10) return false;
            p += (uint)(left[i - 1] - '0') * scale;
            scale *= 10;
            i--;
        }
        if (i == left.Length || i == 0 || left[i - 1] != '-' || p > int.MaxValue) return false;
        pid = (int)p;
        comm = left[..(i - 1)];
        int c = comm.IndexOfAnyExcept((byte)' ');
        comm = c < 0 ? default : comm[c..];
        return true;
    }

    /// <summary>After the timestamp: <c>event: text</c>, or the syscall forms <c>sys_read(...)</c> / <c>sys_read -> 0x0</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static bool SplitEvent(ReadOnlySpan<byte> rest, ref LineTokens t)
    {
        rest = rest.TrimStart((byte)' ');
        int i = rest.IndexOfAny((byte)':', (byte)'(', (byte)' ');
        if (i < 0) i = rest.Length;
        if (i == 0) return false;
        t.Event = rest[..i];
        if (i < rest.Length && rest[i] == ':') i++;
        t.Text = rest[i..].TrimStart((byte)' ');
        return true;
    }

    static bool TryPerf(ReadOnlySpan<byte> line, ref LineTokens t)
    {
        int b = FindCpuBracket(line, out t.Cpu, out int close);
        if (b < 0) return false;
        var left = line[..b].TrimEnd((byte)' ');
        int sp = left.LastIndexOf((byte)' ');
        var idTok = sp < 0 ? left : left[(sp + 1)..];
        t.Comm = sp < 0 ? default : left[..sp].Trim((byte)' ');
        int slash = idTok.IndexOf((byte)'/');
        if (slash >= 0) idTok = idTok[(slash + 1)..]; // pid/tid: the tid is the task
        if (!SpanNumber.TryParseSignedDec(idTok, out long tid) || tid < int.MinValue || tid > int.MaxValue) return false;
        t.Pid = (int)tid;
        var rest = line[(close + 1)..].TrimStart((byte)' ');
        int colon = rest.IndexOf((byte)':');
        if (colon < 0) return false;
        if (!SpanNumber.TryParseTimestamp(rest[..colon], out t.TsNs, out t.TsIsNs)) return false;
        rest = rest[(colon + 1)..].TrimStart((byte)' ');
        // "sys:event: text"
        int c1 = rest.IndexOf((byte)':');
        if (c1 < 0) return false;
        rest = rest[(c1 + 1)..];
        int c2 = rest.IndexOf((byte)':');
        if (c2 <= 0) return false;
        t.Event = rest[..c2];
        t.Text = rest[(c2 + 1)..].TrimStart((byte)' ');
        return true;
    }

    /// <summary>
    /// <c>record.s-21828     0..... 10445us+: mm_page_alloc: …</c> (kernel, time relative in µs) or
    /// <c>bash-2137    0.....  1478.678936: mm_page_alloc: …</c> (trace-cmd -l, absolute time).
    /// </summary>
    static bool TryLatency(ReadOnlySpan<byte> line, ref LineTokens t)
    {
        int sep = line.IndexOf(": "u8);
        if (sep < 0) return false;
        var head = line[..sep].TrimEnd((byte)' ');
        int sp = head.LastIndexOf((byte)' ');
        if (sp < 0) return false;
        var timeTok = head[(sp + 1)..];
        head = head[..sp].TrimEnd((byte)' ');
        sp = head.LastIndexOf((byte)' ');
        if (sp < 0) return false;
        var cpuFlags = head[(sp + 1)..];
        int d = 0, cpu = 0;
        while (d < cpuFlags.Length && (uint)(cpuFlags[d] - '0') <= 9) { cpu = cpu * 10 + (cpuFlags[d] - '0'); d++; }
        if (d == 0 || cpuFlags.Length - d < 3) return false;
        t.Cpu = cpu;
        if (!SplitCommDashPid(head[..sp].TrimEnd((byte)' '), out t.Comm, out t.Pid)) return false;
        // Time: "10445us" with a delay mark (' ', '+', '!', '#', '*', '@', '$'), or "1478.678936".
        int us = timeTok.IndexOf("us"u8);
        if (us >= 0)
        {
            if (!SpanNumber.TryParseDec(timeTok[..us], out ulong micros) || micros > long.MaxValue / 1000) return false;
            t.TsNs = (long)micros * 1000; t.TsIsNs = true; t.TsRelative = true;
        }
        else if (!SpanNumber.TryParseTimestamp(timeTok, out t.TsNs, out t.TsIsNs)) return false;
        return SplitEvent(line[(sep + 1)..], ref t);
    }

    /// <summary><c>record.sh   21828   0 0 00000000 00000000 [77cf6491] 11.254ms (+0.032ms): event: text</c>;
    /// the bracketed hex is the full ns timestamp (kernel/trace/trace_output.c, lat_print_timestamp).</summary>
    static bool TryLatencyVerbose(ReadOnlySpan<byte> line, ref LineTokens t)
    {
        int sep = line.IndexOf("): "u8);
        if (sep < 0) return false;
        int lb = line[..sep].LastIndexOf((byte)'[');
        if (lb < 0) return false;
        int rb = line[lb..].IndexOf((byte)']');
        if (rb < 0 || !SpanNumber.TryParseHex(line.Slice(lb + 1, rb - 1), out ulong ts) || ts > long.MaxValue) return false;
        t.TsNs = (long)ts; t.TsIsNs = true;
        // Before '[': comm pid cpu flags preempt idx — peel the four right-most, then the pid; comm may contain spaces.
        var head = line[..lb].TrimEnd((byte)' ');
        Span<int> cuts = stackalloc int[4];
        for (int k = 0; k < 4; k++)
        {
            int s = head.LastIndexOf((byte)' ');
            if (s < 0) return false;
            cuts[k] = s;
            head = head[..s].TrimEnd((byte)' ');
        }
        // head now ends with the pid
        var full = line[..lb].TrimEnd((byte)' ');
        int pidSp = head.LastIndexOf((byte)' ');
        if (pidSp < 0) return false;
        if (!SpanNumber.TryParseDec(head[(pidSp + 1)..], out ulong pid) || pid > int.MaxValue) return false;
        t.Pid = (int)pid;
        t.Comm = head[..pidSp].Trim((byte)' ');
        var cpuTok = full[(cuts[3] + 1)..];
        int e = cpuTok.IndexOf((byte)' ');
        if (e < 0 || !SpanNumber.TryParseDec(cpuTok[..e], out ulong cpu) || cpu > ushort.MaxValue) return false;
        t.Cpu = (int)cpu;
        return SplitEvent(line[(sep + 2)..], ref t);
    }
}
