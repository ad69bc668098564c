using System.IO.Compression;
using AsiTrace.Ingest.Input;

namespace AsiTrace.Ingest.Binary;

/// <summary>
/// Decompresses one trace-cmd block (a v7 section or a per-CPU chunk: docs/formats.md §9) into a buffer of exactly
/// its declared size. A block that inflates past, or short of, its declared size is corrupt: exit 3 with the offset.
/// </summary>
public sealed class BlockDecompressor : IDisposable
{
    /// <summary>Largest declared uncompressed block we accept (trace-cmd writes chunks of a few hundred KiB).</summary>
    public const int MaxBlock = 256 << 20;
    readonly string _algorithm;
    readonly string _file;
    ZstdSharp.Decompressor? _zstd;

    public string Algorithm => _algorithm;

    /// <summary>
    /// The largest uncompressed size we believe for <paramref name="compressedSize"/> compressed bytes: trace data
    /// compresses 5–20× and even all-zero pages stay under 1:4096 with zstd and zlib, so a larger claim is corruption
    /// and must not become an allocation.
    /// </summary>
    public static long PlausibleLimit(long compressedSize) => Math.Min(MaxBlock, Math.Max(1 << 20, compressedSize * 4096));

    public BlockDecompressor(string algorithm, string file)
    {
        if (algorithm is not ("zstd" or "zlib" or "none"))
            throw new InvalidTraceException(file, "header", $"unsupported compression '{algorithm}' (supported: zstd, zlib, none)");
        _algorithm = algorithm;
        _file = file;
    }

    /// <summary>Decompresses <paramref name="src"/> into <paramref name="dest"/>, which has the declared size.</summary>
    public void Decompress(ReadOnlySpan<byte> src, Span<byte> dest, long fileOffset)
    {
        int written;
        try
        {
            switch (_algorithm)
            {
                case "zstd":
                    _zstd ??= new ZstdSharp.Decompressor();
                    // A frame that says it is larger than dest makes Unwrap throw instead of writing past it.
                    written = _zstd.Unwrap(src, dest);
                    break;
                case "zlib":
                    written = InflateZlib(src, dest);
                    break;
                default:
                    throw new InvalidTraceException(_file, $"byte {fileOffset}", "block is flagged compressed but the file declares no compression");
            }
        }
        catch (ZstdSharp.ZstdException e) { throw new InvalidTraceException(_file, $"byte {fileOffset}", $"corrupt zstd block: {e.Message}"); }
        catch (InvalidDataException e) { throw new InvalidTraceException(_file, $"byte {fileOffset}", $"corrupt zlib block: {e.Message}"); }
        catch (ArgumentException e) { throw new InvalidTraceException(_file, $"byte {fileOffset}", $"compressed block inflates past its declared {dest.Length} bytes ({e.Message})"); }
        if (written != dest.Length)
            throw new InvalidTraceException(_file, $"byte {fileOffset}", $"compressed block inflates to {written} bytes, declared {dest.Length}");
    }

    unsafe int InflateZlib(ReadOnlySpan<byte> src, Span<byte> dest)
    {
        fixed (byte* p = src)
        {
            using var ms = new UnmanagedMemoryStream(p, src.Length);
            using var z = new ZLibStream(ms, CompressionMode.Decompress);
            int total = 0;
            while (total < dest.Length)
            {
                int n = z.Read(dest[total..]);
                if (n == 0) break;
                total += n;
            }
            // Anything left means the block is larger than declared.
            Span<byte> probe = stackalloc byte[1];
            if (total == dest.Length && z.Read(probe) > 0) throw new ArgumentException("more data than declared");
            return total;
        }
    }

    public void Dispose() => _zstd?.Dispose();
}
