using System.Diagnostics;

namespace AsiTrace.Cli.Output;

/// <summary>A one-line progress bar on stderr, drawn only when stderr is a terminal; silent otherwise.</summary>
public sealed class Progress(string label, long? totalBytes)
{
    readonly bool _enabled = !Console.IsErrorRedirected && Environment.GetEnvironmentVariable("CI") is null;
    readonly Stopwatch _sw = Stopwatch.StartNew();
    long _lastDrawMs = -1000;
    bool _drawn;

    public void Report(long bytes)
    {
        if (!_enabled) return;
        long ms = _sw.ElapsedMilliseconds;
        if (ms - _lastDrawMs < 200) return;
        _lastDrawMs = ms;
        double mb = bytes / 1e6;
        string text;
        if (totalBytes is > 0)
        {
            double frac = Math.Clamp((double)bytes / totalBytes.Value, 0, 1);
            int w = 30, fill = (int)(frac * w);
            text = $"\r{label} [{new string('#', fill)}{new string('.', w - fill)}] {frac * 100,5:F1}%  {mb:F1} MB";
        }
        else text = $"\r{label} {mb:F1} MB";
        Console.Error.Write(text);
        _drawn = true;
    }

    public void Done()
    {
        if (_drawn) Console.Error.Write("\r" + new string(' ', 70) + "\r");
    }
}
