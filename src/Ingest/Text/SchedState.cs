namespace AsiTrace.Ingest.Text;

/// <summary>
/// sched_switch prev_state in a canonical bit layout: the task-state bits of v4.14+ (include/linux/sched.h,
/// TASK_REPORT): S 0x1, D 0x2, T 0x4, t 0x8, X 0x10, Z 0x20, P 0x40, I 0x80, and 0x100 for the "+" that marks a
/// preempted runnable task; R is 0. Letters that only kernels before 4.14 printed get bits above:
/// x (TASK_DEAD) 0x10000, K (WAKEKILL) 0x20000, W (WAKING) 0x40000, N (NOLOAD) 0x80000.
/// A numeric value (trace-cmd -R, fields=1) is the kernel's own bits and is kept as printed.
/// </summary>
public static class SchedState
{
    public static bool TryParse(ReadOnlySpan<byte> s, out long state)
    {
        state = 0;
        if (s.IsEmpty) return false;
        if ((uint)(s[0] - '0') <= 9)
        {
            if (!SpanNumber.TryParseAuto(s, out ulong raw)) return false;
            state = (long)raw;
            return true;
        }
        foreach (byte c in s)
        {
            switch (c)
            {
                case (byte)'R': break;
                case (byte)'S': state |= 0x1; break;
                case (byte)'D': state |= 0x2; break;
                case (byte)'T': state |= 0x4; break;
                case (byte)'t': state |= 0x8; break;
                case (byte)'X': state |= 0x10; break;
                case (byte)'Z': state |= 0x20; break;
                case (byte)'P': state |= 0x40; break;
                case (byte)'I': state |= 0x80; break;
                case (byte)'+': state |= 0x100; break;
                case (byte)'x': state |= 0x10000; break;
                case (byte)'K': state |= 0x20000; break;
                case (byte)'W': state |= 0x40000; break;
                case (byte)'N': state |= 0x80000; break;
                case (byte)'|': break;
                default: return false;
            }
        }
        return true;
    }
}
