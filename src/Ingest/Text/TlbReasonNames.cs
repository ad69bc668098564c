namespace AsiTrace.Ingest.Text;

/// <summary>
/// tlb_flush reason codes (arch/x86/include/asm/tlbflush.h, enum tlb_flush_reason) and every spelling
/// kernels and tools printed for them (docs/formats.md §3.7). Keyed on the number wherever it is printed.
/// </summary>
public static class TlbReasonNames
{
    public const byte TaskSwitch = 0, RemoteShootdown = 1, LocalShootdown = 2, LocalMmShootdown = 3, RemoteSendIpi = 4, RemoteWrongCpu = 5;

    public static readonly string[] Names = ["flush on task switch", "remote shootdown", "local shootdown", "local MM shootdown", "remote IPI send", "remote wrong CPU"];

    public static bool TryParse(ReadOnlySpan<byte> text, out byte code)
    {
        Span<char> buf = stackalloc char[32];
        code = 0;
        if (text.Length > buf.Length) return false;
        for (int i = 0; i < text.Length; i++) buf[i] = (char)text[i];
        var s = buf[..text.Length];
        for (int i = 0; i < Names.Length; i++)
        {
            if (s.Equals(Names[i], StringComparison.OrdinalIgnoreCase)) { code = (byte)i; return true; }
        }
        return false;
    }
}
