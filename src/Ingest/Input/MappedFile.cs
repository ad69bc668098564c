using System.IO.MemoryMappedFiles;

namespace AsiTrace.Ingest.Input;

/// <summary>
/// A read-only memory mapping of a whole regular file. Readers take spans straight from the page cache instead of
/// copying through read(2) (measured: the copy was 8% of text decode time), and the binary readers get random access
/// to sections and per-CPU data. Every span is bounds-checked against the file length.
/// </summary>
public sealed unsafe class MappedFile : IDisposable
{
    readonly MemoryMappedFile _map;
    readonly MemoryMappedViewAccessor _view;
    byte* _base;
    public long Length { get; }
    public string Name { get; }

    MappedFile(string name, MemoryMappedFile map, MemoryMappedViewAccessor view, long length)
    {
        Name = name; _map = map; _view = view; Length = length;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref _base);
        _base += view.PointerOffset;
    }

    /// <summary>Maps <paramref name="fs"/> when it is a non-empty regular file; null otherwise (pipes, empty files, /proc).</summary>
    public static MappedFile? TryMap(string name, FileStream fs)
    {
        long length;
        try { length = fs.Length; } catch (IOException) { return null; }
        if (length <= 0 || !fs.CanSeek) return null;
        try
        {
            var map = MemoryMappedFile.CreateFromFile(fs, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: true);
            var view = map.CreateViewAccessor(0, length, MemoryMappedFileAccess.Read);
            return new MappedFile(name, map, view, length);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return null;
        }
    }

    /// <summary>
    /// The binary formats need random access: a compressed or piped input is first copied to a temporary file (deleted
    /// when the mapping is disposed) and that is mapped. Disk use is the decompressed size; memory stays bounded.
    /// </summary>
    public static MappedFile Spool(string name, Stream content)
    {
        string path = Path.Combine(Path.GetTempPath(), $"asitrace-{Environment.ProcessId}-{Guid.NewGuid():N}.spool");
        var fs = new FileStream(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16, FileOptions.DeleteOnClose);
        try
        {
            content.CopyTo(fs);
            fs.Flush();
            if (fs.Length == 0) throw new InvalidTraceException(name, "byte 0", "empty input");
            var m = TryMap(name, fs) ?? throw new IOException($"{name}: could not map the spooled copy {path}");
            m._owned = fs;
            return m;
        }
        catch
        {
            fs.Dispose();
            throw;
        }
    }

    FileStream? _owned;

    const int MadvDontNeed = 4;
    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "madvise")]
    static extern int Madvise(IntPtr addr, nuint length, int advice);

    long _droppedUpTo;

    /// <summary>
    /// Tells the kernel we are done with the file's bytes before <paramref name="offset"/>: their pages leave this
    /// process's resident set (they stay in the page cache). Mapped pages count in RSS, so readers call this as they
    /// go to keep peak RSS independent of the file's size. Bytes are still readable afterwards (they fault back in).
    /// </summary>
    public void DoneBefore(long offset)
    {
        long end = Math.Min(offset, Length) & ~(Environment.SystemPageSize - 1L);
        if (end <= _droppedUpTo || _base == null) return;
        if (OperatingSystem.IsLinux()) Madvise((IntPtr)(_base + _droppedUpTo), (nuint)(end - _droppedUpTo), MadvDontNeed);
        _droppedUpTo = end;
    }

    /// <summary>Like <see cref="DoneBefore"/> for a range inside the file (per-CPU regions of a trace.dat).</summary>
    public void DoneWith(long from, long to)
    {
        long page = Environment.SystemPageSize;
        long start = (from + page - 1) & ~(page - 1), end = Math.Min(to, Length) & ~(page - 1);
        if (end > start && _base != null && OperatingSystem.IsLinux()) Madvise((IntPtr)(_base + start), (nuint)(end - start), MadvDontNeed);
    }

    /// <summary>The bytes at [offset, offset + length); throws <see cref="InvalidTraceException"/> past the end.</summary>
    public ReadOnlySpan<byte> Span(long offset, int length)
    {
        if (offset < 0 || length < 0 || offset > Length - length)
            throw new InvalidTraceException(Name, $"byte {offset}", $"{length} bytes needed but the file ends at byte {Length}");
        return new ReadOnlySpan<byte>(_base + offset, length);
    }

    /// <summary>Up to <paramref name="max"/> bytes from <paramref name="offset"/>, fewer at the end of the file.</summary>
    public ReadOnlySpan<byte> SpanUpTo(long offset, int max)
    {
        if (offset < 0 || offset > Length) throw new InvalidTraceException(Name, $"byte {offset}", $"offset past the end of the file ({Length} bytes)");
        return new ReadOnlySpan<byte>(_base + offset, (int)Math.Min(max, Length - offset));
    }

    public void Dispose()
    {
        if (_base != null) { _view.SafeMemoryMappedViewHandle.ReleasePointer(); _base = null; }
        _view.Dispose();
        _map.Dispose();
        _owned?.Dispose();
    }
}
