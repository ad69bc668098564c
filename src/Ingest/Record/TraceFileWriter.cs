using System.Runtime.InteropServices;

namespace AsiTrace.Ingest.Record;

/// <summary>
/// Writes <c>trace.txt</c> with <c>O_DIRECT</c> where the filesystem allows it. The recorder's own threads are kept out
/// of the trace, so page cache it filled with the trace's text would be memory the kernel used and the replay never saw:
/// on this VM's 6.18 the end snapshot's free pages were 0.9–9.4 k pages (up to 0.2 %) below the replay's after
/// recordings of 2–80 MB of text. Direct I/O bypasses the page cache. Where <c>open(O_DIRECT)</c> is refused (filesystems without
/// direct I/O; tmpfs before v6.6) it falls back to buffered writes and says so in <see cref="Direct"/>.
/// </summary>
sealed unsafe class TraceFileWriter : IDisposable
{
    const int O_WRONLY = 1, O_CREAT = 0x40, O_TRUNC = 0x200, O_DIRECT = 0x4000, EINTR = 4;
    const int Align = 4096, BufferSize = 1 << 20;

    [DllImport("libc", SetLastError = true)] static extern int open([MarshalAs(UnmanagedType.LPStr)] string path, int flags, int mode);
    [DllImport("libc", SetLastError = true)] static extern int close(int fd);
    [DllImport("libc", SetLastError = true)] static extern nint write(int fd, byte* buf, nint count);
    [DllImport("libc", SetLastError = true)] static extern int ftruncate(int fd, long length);
    [DllImport("libc", SetLastError = true)] static extern int fsync(int fd);

    readonly string _path;
    readonly FileStream? _buffered;
    int _fd = -1;
    byte* _buf;
    int _used;
    long _length;
    bool _finished;

    public bool Direct => _fd >= 0;
    public long Length => _length;

    TraceFileWriter(string path, int fd, FileStream? buffered)
    {
        _path = path; _fd = fd; _buffered = buffered;
        if (fd >= 0) _buf = (byte*)NativeMemory.AlignedAlloc(BufferSize, Align);
    }

    public static TraceFileWriter Create(string path, bool allowDirect = true)
    {
        int fd = allowDirect ? open(path, O_WRONLY | O_CREAT | O_TRUNC | O_DIRECT, Convert.ToInt32("644", 8)) : -1;
        if (fd >= 0) return new TraceFileWriter(path, fd, null);
        return new TraceFileWriter(path, -1, new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 16));
    }

    public void Write(ReadOnlySpan<byte> data)
    {
        _length += data.Length;
        if (_buffered is not null) { _buffered.Write(data); return; }
        while (data.Length > 0)
        {
            int n = Math.Min(data.Length, BufferSize - _used);
            data[..n].CopyTo(new Span<byte>(_buf + _used, n));
            _used += n;
            data = data[n..];
            if (_used == BufferSize) WriteBuffer(BufferSize);
        }
    }

    void WriteBuffer(int count)
    {
        int done = 0;
        while (done < count)
        {
            nint n = write(_fd, _buf + done, count - done);
            if (n < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno == EINTR) continue;
                throw new IOException($"writing {_path}: {Marshal.GetPInvokeErrorMessage(errno)}");
            }
            done += (int)n;
        }
        _used = 0;
    }

    /// <summary>Writes what is buffered (the last block padded to the alignment, then cut back to the real length) and
    /// syncs the file.</summary>
    public void Finish()
    {
        _finished = true;
        if (_buffered is not null) { _buffered.Flush(true); return; }
        if (_fd < 0) return;
        if (_used > 0)
        {
            int padded = (_used + Align - 1) / Align * Align;
            new Span<byte>(_buf + _used, padded - _used).Clear();
            WriteBuffer(padded);
        }
        if (ftruncate(_fd, _length) != 0 || fsync(_fd) != 0)
            throw new IOException($"writing {_path}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
    }

    /// <summary>Keeps what was written even when <see cref="Finish"/> was not reached; a write error then surfaces as
    /// the <see cref="IOException"/> the caller reports.</summary>
    public void Dispose()
    {
        try { if (!_finished) Finish(); }
        finally
        {
            _buffered?.Dispose();
            if (_fd >= 0) { close(_fd); _fd = -1; }
            if (_buf is not null) { NativeMemory.AlignedFree(_buf); _buf = null; }
        }
    }
}
