using System.Runtime.InteropServices;
using System.Text;

namespace AsiTrace.Ingest.Record;

/// <summary>Why a recording could not start (not root, no tracefs): the message says what to do.</summary>
public sealed class RecordException(string message) : Exception(message);

public sealed record RecordOptions
{
    public required string OutputDir { get; init; }
    /// <summary>Events as "system/name"; defaults to <see cref="TracefsRecorder.DefaultEvents"/>.</summary>
    public IReadOnlyList<string> Events { get; init; } = TracefsRecorder.DefaultEvents;
    /// <summary>Per-CPU ring buffer in KiB.</summary>
    public int BufferKb { get; init; } = 65536;
    public string Tracefs { get; init; } = TracefsRecorder.FindTracefs() ?? "/sys/kernel/tracing";
}

/// <summary>What a recording did, for the summary and <c>record.json</c>.</summary>
public sealed class RecordResult
{
    public List<string> Enabled { get; } = new();
    public List<string> Missing { get; } = new();
    public long BytesWritten { get; set; }
    /// <summary>Lines written to trace.txt: one per event (and per lost-events marker).</summary>
    public long LinesWritten { get; set; }
    public long Lost { get; set; }
    public long Entries { get; set; }
    public Dictionary<int, (long Overrun, long Dropped, long Entries)> PerCpu { get; } = new();
    public int SuggestedBufferKb { get; set; }
    public string? StoppedBecause { get; set; }
    public TimeSpan Duration { get; set; }
    /// <summary>The recorder's own threads, kept out of the trace (<c>set_event_notrace_pid</c>); empty where the kernel
    /// lacks that file.</summary>
    public List<int> UntracedTids { get; } = new();
    /// <summary>Whether trace.txt was written with O_DIRECT (outside the page cache; <see cref="TraceFileWriter"/>).</summary>
    public bool DirectIo { get; set; }
    /// <summary><c>record --baseline</c>: the command's run without tracing, before the recording.</summary>
    public BaselineRun? Baseline { get; set; }
}

/// <summary>The command run once without tracing: its machine-wide busy CPU time (<c>/proc/stat</c>, USER_HZ ticks
/// turned into ns) and its wall time.</summary>
public sealed record BaselineRun(double CpuNs, double WallS);

/// <summary>
/// Records a trace straight from tracefs (no trace-cmd): remembers every setting it will touch, enables the events,
/// sizes the per-CPU buffers, snapshots <c>/proc</c> and the events' format files, streams <c>trace_pipe</c> (text, the
/// CPUs merged by the kernel) into <c>trace.txt</c> until told to stop, snapshots again, reads the per-CPU stats for lost
/// events, and puts every touched setting back — whatever happened in between (<see cref="Restore"/> is idempotent and
/// is also what a signal handler calls).
/// </summary>
public sealed class TracefsRecorder : IDisposable
{
    /// <summary>docs/formats.md §12: what the replay reads. Missing ones are skipped and reported.</summary>
    public static readonly string[] DefaultEvents =
    [
        "kmem/mm_page_alloc", "kmem/mm_page_alloc_zone_locked", "kmem/mm_page_free", "kmem/mm_page_free_batched",
        "kmem/mm_page_pcpu_drain", "kmem/mm_page_alloc_extfrag", "kmem/mm_page_pcpu_refill",
        "filemap/mm_filemap_add_to_page_cache", "filemap/mm_filemap_delete_from_page_cache",
        "tlb/tlb_flush", "ipi/ipi_send_cpumask", "sched/sched_switch", "migrate/mm_migrate_pages",
        "syscalls/sys_enter_read", "syscalls/sys_enter_pread64", "syscalls/sys_enter_write", "syscalls/sys_enter_pwrite64",
        // Kernel entries and returns for the ASI state machine (docs/model.md §6.1): every system call and user fault.
        "raw_syscalls/sys_enter", "raw_syscalls/sys_exit", "exceptions/page_fault_user", "kvm/kvm_exit", "kvm/kvm_entry",
    ];

    // stat: per-CPU busy time, the denominator of the overhead (docs/model.md §8.7).
    static readonly string[] ProcFiles = ["zoneinfo", "pagetypeinfo", "buddyinfo", "meminfo", "vmstat", "iomem", "cpuinfo", "stat"];

    readonly RecordOptions _o;
    readonly string _t;
    // Every tracefs file this recorder writes, with the value it had: restored in reverse order.
    readonly List<(string File, string Value)> _saved = new();
    readonly object _restoreLock = new();
    bool _restored;
    public RecordResult Result { get; } = new();

    public static string? FindTracefs()
    {
        foreach (var p in new[] { "/sys/kernel/tracing", "/sys/kernel/debug/tracing" })
            if (File.Exists(Path.Combine(p, "tracing_on"))) return p;
        return null;
    }

    public TracefsRecorder(RecordOptions options)
    {
        _o = options;
        _t = options.Tracefs;
        if (!Environment.IsPrivilegedProcess)
            throw new RecordException("recording needs root (tracefs is root-only): run asitrace record with sudo");
        if (!File.Exists(Path.Combine(_t, "tracing_on")))
            throw new RecordException($"tracefs is not mounted at {_t}: mount it with `mount -t tracefs nodev /sys/kernel/tracing`");
    }

    string T(string rel) => Path.Combine(_t, rel);

    static string ReadSetting(string file) => File.ReadAllText(file).Trim();

    /// <summary>Writes a tracefs setting, remembering its old value the first time.</summary>
    void Set(string rel, string value)
    {
        string file = T(rel);
        if (!_saved.Any(s => s.File == file)) _saved.Add((file, SavedValue(rel, ReadSetting(file))));
        File.WriteAllText(file, value);
    }

    /// <summary>current_tracer and trace_clock print the choice in brackets among the options.</summary>
    static string SavedValue(string rel, string text)
    {
        if (rel is "trace_clock")
        {
            int a = text.IndexOf('['), b = text.IndexOf(']');
            return a >= 0 && b > a ? text[(a + 1)..b] : text;
        }
        return text;
    }

    /// <summary>Stops tracing, enables the events, sizes the buffers and clears them. Missing events are skipped.</summary>
    public void Prepare()
    {
        Directory.CreateDirectory(_o.OutputDir);
        Set("tracing_on", "0");
        if (ReadSetting(T("current_tracer")) != "nop") Set("current_tracer", "nop");
        // Comms of short-lived tasks print as <...> once the saved-cmdlines table overflows: make room.
        if (File.Exists(T("saved_cmdlines_size")) && int.TryParse(ReadSetting(T("saved_cmdlines_size")), out int cmdlines) && cmdlines < 8192)
            Set("saved_cmdlines_size", "8192");
        try { Set("buffer_size_kb", _o.BufferKb.ToString()); }
        catch (IOException e) { throw new RecordException($"cannot size the ring buffers to {_o.BufferKb} KiB per CPU ({e.Message}): try a smaller --buffer-kb"); }
        foreach (var ev in _o.Events)
        {
            string enable = Path.Combine("events", ev, "enable");
            if (!File.Exists(T(enable))) { Result.Missing.Add(ev); continue; }
            Set(enable, "1");
            Result.Enabled.Add(ev);
        }
        ClearBuffers(); // not a setting: nothing to restore
    }

    /// <summary>Snapshots <c>/proc</c>, uname, the clock, CPU count and the enabled events' format files into
    /// <paramref name="name"/> (snapshot-start, snapshot-end).</summary>
    public void Snapshot(string name)
    {
        string d = Path.Combine(_o.OutputDir, name);
        Directory.CreateDirectory(d);
        foreach (var f in ProcFiles)
        {
            try { File.WriteAllBytes(Path.Combine(d, f), File.ReadAllBytes("/proc/" + f)); }
            catch (IOException) { } // pagetypeinfo/iomem need root; we are root, but a kernel may lack one
            catch (UnauthorizedAccessException) { }
        }
        File.WriteAllText(Path.Combine(d, "uname"), $"Linux {Environment.MachineName} {ReadProc("sys/kernel/osrelease")} {ReadProc("sys/kernel/version")} x86_64\n");
        File.WriteAllText(Path.Combine(d, "trace_clock"), File.ReadAllText(T("trace_clock")));
        File.WriteAllText(Path.Combine(d, "nproc"), Environment.ProcessorCount + "\n");
        foreach (var ev in Result.Enabled)
        {
            string fmt = T(Path.Combine("events", ev, "format"));
            if (File.Exists(fmt)) File.WriteAllText(Path.Combine(d, ev.Replace('/', '.') + ".format"), File.ReadAllText(fmt));
        }
    }

    // The allocator's state read at the trace's edges: just before tracing starts and just after it stops, before the
    // snapshots' other files and the drain of the ring buffer allocate and free pages of their own.
    static readonly string[] AllocatorStateFiles = ["zoneinfo", "pagetypeinfo", "buddyinfo"];
    Dictionary<string, byte[]>? _startState, _endState;

    static Dictionary<string, byte[]> CaptureAllocatorState()
    {
        var state = new Dictionary<string, byte[]>();
        foreach (var f in AllocatorStateFiles)
        {
            try { state[f] = File.ReadAllBytes("/proc/" + f); }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
        return state;
    }

    /// <summary>Replaces the snapshots' zoneinfo, pagetypeinfo and buddyinfo with the copies read at the trace's edges
    /// (<see cref="Start"/> and the stop in <see cref="Stream"/>). Call after both snapshots.</summary>
    public void WriteAllocatorStateAtEdges()
    {
        foreach (var (name, state) in new[] { ("snapshot-start", _startState), ("snapshot-end", _endState) })
            if (state is not null)
                foreach (var (f, bytes) in state) File.WriteAllBytes(Path.Combine(_o.OutputDir, name, f), bytes);
    }

    static string ReadProc(string rel)
    {
        try { return File.ReadAllText("/proc/" + rel).Trim(); } catch (IOException) { return "unknown"; }
    }

    // ---- streaming trace_pipe without blocking (O_NONBLOCK + poll) ----

    [DllImport("libc", SetLastError = true)] static extern int open([MarshalAs(UnmanagedType.LPStr)] string path, int flags);
    [DllImport("libc", SetLastError = true)] static extern int close(int fd);
    [DllImport("libc", SetLastError = true)] static extern unsafe nint read(int fd, byte* buf, nint count);
    [DllImport("libc", SetLastError = true)] static extern unsafe nint write(int fd, byte* buf, nint count);
    [DllImport("libc", SetLastError = true)] static extern unsafe int poll(PollFd* fds, nuint nfds, int timeout);
    [StructLayout(LayoutKind.Sequential)] struct PollFd { public int Fd; public short Events, Revents; }
    const int O_RDONLY = 0, O_WRONLY = 1, O_TRUNC = 0x200, O_NONBLOCK = 0x800, POLLIN = 1, EAGAIN = 11, EINTR = 4;

    /// <summary>Empties the ring buffers: tracefs clears them when <c>trace</c> is opened with O_TRUNC (tracing_open()).
    /// .NET's FileMode.Create truncates with ftruncate(), which tracefs ignores, so this opens the file itself.</summary>
    void ClearBuffers()
    {
        int fd = open(T("trace"), O_WRONLY | O_TRUNC);
        if (fd < 0) throw new RecordException($"cannot clear {T("trace")}: errno {Marshal.GetLastPInvokeError()}");
        close(fd);
    }

    /// <summary>Turns tracing on (idempotent): before the command starts, so its first events are in the trace. The
    /// recorder's own threads (this one streams trace_pipe) are kept out of the trace: their reads of trace_pipe
    /// would otherwise be traced as the workload's.</summary>
    public void Start()
    {
        if (_on) return;
        UntraceOwnThreads();
        _startState = CaptureAllocatorState();
        File.WriteAllText(T("tracing_on"), "1");
        _on = true;
    }

    void UntraceOwnThreads()
    {
        const string file = "set_event_notrace_pid";
        if (!File.Exists(T(file))) return;
        var tids = new List<int>();
        foreach (var d in Directory.EnumerateDirectories("/proc/self/task"))
            if (int.TryParse(Path.GetFileName(d), out int tid)) tids.Add(tid);
        string old = ReadSetting(T(file));
        // tracefs pid lists are cleared by opening them with O_TRUNC (like trace); a plain write appends.
        if (!_savedPidList) { _pidListBefore = old; _savedPidList = true; }
        TruncateAndWrite(T(file), string.Join(' ', tids));
        Result.UntracedTids.AddRange(tids);
    }

    bool _savedPidList;
    string _pidListBefore = "";

    unsafe void TruncateAndWrite(string path, string text)
    {
        int fd = open(path, O_WRONLY | O_TRUNC);
        if (fd < 0) throw new RecordException($"cannot write {path}: errno {Marshal.GetLastPInvokeError()}");
        try
        {
            var bytes = System.Text.Encoding.ASCII.GetBytes(text + "\n");
            if (text.Length > 0)
                fixed (byte* b = bytes)
                    if (write(fd, b, bytes.Length) < 0) throw new RecordException($"cannot write {path}: errno {Marshal.GetLastPInvokeError()}");
        }
        finally { close(fd); }
    }

    bool _on;

    /// <summary>
    /// Turns tracing on (if <see cref="Start"/> has not) and copies <c>trace_pipe</c> to <c>trace.txt</c> until <paramref name="stop"/> is set; then turns
    /// tracing off and drains what is left. A write error (disk full) stops the recording and keeps what was written.
    /// </summary>
    public unsafe void Stream(Func<bool> stop)
    {
        string output = Path.Combine(_o.OutputDir, "trace.txt");
        int fd = open(T("trace_pipe"), O_RDONLY | O_NONBLOCK);
        if (fd < 0) throw new RecordException($"cannot open {T("trace_pipe")}: errno {Marshal.GetLastPInvokeError()}");
        var started = DateTime.UtcNow;
        TraceFileWriter? fs = null;
        try
        {
            fs = TraceFileWriter.Create(output);
            Result.DirectIo = fs.Direct;
            var buf = new byte[1 << 16];
            Start();
            bool draining = false;
            while (true)
            {
                if (!draining && stop())
                {
                    File.WriteAllText(T("tracing_on"), "0");
                    // Before the rest of the buffer is drained and written: that work is the recorder's, not the trace's.
                    _endState = CaptureAllocatorState();
                    draining = true;
                }
                var pfd = new PollFd { Fd = fd, Events = POLLIN };
                poll(&pfd, 1, draining ? 0 : 100);
                nint n;
                fixed (byte* p = buf) n = read(fd, p, buf.Length);
                if (n > 0)
                {
                    try { fs.Write(buf.AsSpan(0, (int)n)); Result.BytesWritten += n; Result.LinesWritten += buf.AsSpan(0, (int)n).Count((byte)'\n'); }
                    catch (IOException e)
                    {
                        Result.StoppedBecause = $"writing {output} failed ({e.Message}); tracing stopped, {Result.BytesWritten:N0} bytes kept";
                        File.WriteAllText(T("tracing_on"), "0");
                        break;
                    }
                    continue;
                }
                int errno = n < 0 ? Marshal.GetLastPInvokeError() : 0;
                if (n < 0 && errno != EAGAIN && errno != EINTR) throw new RecordException($"reading {T("trace_pipe")}: errno {errno}");
                if (draining) break; // empty after tracing stopped: done
            }
            try { fs.Finish(); } catch (IOException e) { Result.StoppedBecause ??= $"writing {output} failed ({e.Message}); {Result.BytesWritten:N0} bytes kept"; }
        }
        catch (IOException e) when (fs is null)
        {
            Result.StoppedBecause = $"cannot create {output} ({e.Message})";
        }
        finally
        {
            try { File.WriteAllText(T("tracing_on"), "0"); } catch (IOException) { }
            close(fd);
            // Disposing flushes what the stream still buffers; on a full disk that fails too, and what is on disk stays.
            try { fs?.Dispose(); } catch (IOException e) { Result.StoppedBecause ??= $"writing {output} failed ({e.Message})"; }
            Result.Duration = DateTime.UtcNow - started;
        }
    }

    /// <summary>Per-CPU <c>stats</c> (overrun = events lost to a full buffer; dropped events too), copied to stats/cpuN.</summary>
    public void ReadStats()
    {
        string d = Path.Combine(_o.OutputDir, "stats");
        Directory.CreateDirectory(d);
        foreach (var cpuDir in Directory.GetDirectories(T("per_cpu"), "cpu*").OrderBy(x => x, StringComparer.Ordinal))
        {
            string name = Path.GetFileName(cpuDir);
            if (!int.TryParse(name.AsSpan(3), out int cpu)) continue;
            string text;
            try { text = File.ReadAllText(Path.Combine(cpuDir, "stats")); } catch (IOException) { continue; }
            File.WriteAllText(Path.Combine(d, name), text);
            long Field(string key)
            {
                foreach (var line in text.Split('\n'))
                    if (line.StartsWith(key + ":", StringComparison.Ordinal) && long.TryParse(line[(key.Length + 1)..].Trim(), out long v)) return v;
                return 0;
            }
            var s = (Field("overrun"), Field("dropped events"), Field("entries"));
            Result.PerCpu[cpu] = s;
            Result.Lost += s.Item1 + s.Item2;
            Result.Entries += s.Item3;
        }
        if (Result.Lost > 0)
        {
            // Enough to hold what was lost, rounded up to a power of two.
            double need = _o.BufferKb * (1 + (double)Result.Lost / Math.Max(Result.Entries + Result.LinesWritten, 1));
            int kb = _o.BufferKb * 2;
            while (kb < need) kb *= 2;
            Result.SuggestedBufferKb = kb;
        }
    }

    /// <summary>Puts back every setting touched, newest first, and clears the buffers. Safe to call more than once
    /// and from a signal handler.</summary>
    public void Restore()
    {
        lock (_restoreLock)
        {
            if (_restored) return;
            _restored = true;
            try { File.WriteAllText(T("tracing_on"), "0"); } catch (IOException) { }
            for (int i = _saved.Count - 1; i >= 0; i--)
            {
                var (file, value) = _saved[i];
                if (file.EndsWith("/tracing_on", StringComparison.Ordinal)) continue; // last, after the buffers are cleared
                try { File.WriteAllText(file, value); } catch (IOException) { }
            }
            if (_savedPidList) try { TruncateAndWrite(T("set_event_notrace_pid"), _pidListBefore); } catch (Exception e) when (e is IOException or RecordException) { }
            try { ClearBuffers(); } catch (RecordException) { }
            foreach (var (file, value) in _saved)
                if (file.EndsWith("/tracing_on", StringComparison.Ordinal)) { try { File.WriteAllText(file, value); } catch (IOException) { } }
        }
    }

    /// <summary>The files touched and their values before the recording (for tests and record.json).</summary>
    public IReadOnlyList<(string File, string Value)> Touched => _saved;

    public void Dispose() => Restore();

    /// <summary>record.json: what was recorded and how.</summary>
    public void WriteSummary(string? command)
    {
        var sb = new StringBuilder();
        sb.Append("{\n");
        sb.Append($"  \"events_enabled\": [{string.Join(", ", Result.Enabled.Select(e => $"\"{e}\""))}],\n");
        sb.Append($"  \"events_missing\": [{string.Join(", ", Result.Missing.Select(e => $"\"{e}\""))}],\n");
        sb.Append($"  \"buffer_size_kb\": {_o.BufferKb},\n");
        sb.Append($"  \"command\": {(command is null ? "null" : System.Text.Json.JsonSerializer.Serialize(command))},\n");
        sb.Append($"  \"duration_s\": {Result.Duration.TotalSeconds.ToString("F3", System.Globalization.CultureInfo.InvariantCulture)},\n");
        sb.Append($"  \"bytes\": {Result.BytesWritten},\n");
        sb.Append($"  \"lines\": {Result.LinesWritten},\n");
        sb.Append($"  \"lost_events\": {Result.Lost},\n");
        sb.Append($"  \"untraced_tids\": [{string.Join(", ", Result.UntracedTids)}],\n");
        sb.Append($"  \"trace_written_with_o_direct\": {(Result.DirectIo ? "true" : "false")},\n");
        sb.Append("  \"allocator_state\": \"zoneinfo, pagetypeinfo and buddyinfo of both snapshots read just before tracing started and just after it stopped\",\n");
        if (Result.Baseline is { } b)
            sb.Append($"  \"baseline\": {{\"cpu_ns\": {b.CpuNs.ToString("F0", System.Globalization.CultureInfo.InvariantCulture)}, \"wall_s\": {b.WallS.ToString("F3", System.Globalization.CultureInfo.InvariantCulture)}, \"method\": \"the command run once untraced before the recording; its user and system time (getrusage of its process tree)\"}},\n");
        sb.Append($"  \"stopped_because\": {(Result.StoppedBecause is null ? "null" : System.Text.Json.JsonSerializer.Serialize(Result.StoppedBecause))}\n");
        sb.Append("}\n");
        File.WriteAllText(Path.Combine(_o.OutputDir, "record.json"), sb.ToString());
    }
}
