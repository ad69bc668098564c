using System.Runtime.InteropServices;

namespace AsiTrace.Ingest.Input;

/// <summary>
/// The file type bits of stat(2): .NET does not say whether a path is a FIFO, a socket or a device, and opening a FIFO
/// blocks until a writer comes. x86-64 Linux layout: <c>st_mode</c> is the 32-bit word at offset 24 of the 144-byte
/// <c>struct stat</c> (glibc 2.33+ exports <c>stat</c> itself).
/// </summary>
public static partial class UnixFileType
{
    public enum Kind { Missing, Regular, Directory, Fifo, CharDevice, BlockDevice, Socket, Symlink, Other }

    [LibraryImport("libc", EntryPoint = "stat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Stat(string path, byte[] buf);

    public static Kind Of(string path)
    {
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64)
            return File.Exists(path) ? Kind.Regular : Directory.Exists(path) ? Kind.Directory : Kind.Missing;
        var buf = new byte[256];
        try
        {
            if (Stat(path, buf) != 0) return Kind.Missing;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return File.Exists(path) ? Kind.Regular : Directory.Exists(path) ? Kind.Directory : Kind.Missing;
        }
        uint mode = BitConverter.ToUInt32(buf, 24);
        return (mode & 0xF000) switch
        {
            0x8000 => Kind.Regular,
            0x4000 => Kind.Directory,
            0x1000 => Kind.Fifo,
            0x2000 => Kind.CharDevice,
            0x6000 => Kind.BlockDevice,
            0xC000 => Kind.Socket,
            0xA000 => Kind.Symlink,
            _ => Kind.Other,
        };
    }
}
