namespace AsiTrace.Report;

/// <summary>
/// Registers the DejaVu Sans shipped beside the assembly and makes it ScottPlot's default (its own default is DejaVu
/// Serif, and on a box without fonts SkiaSharp silently draws no text at all).
/// </summary>
public static class ReportFonts
{
    public const string Family = "DejaVu Sans";
    static readonly object Gate = new();
    static bool _done;

    public static void Register()
    {
        lock (Gate)
        {
            if (_done) return;
            string dir = Path.Combine(AppContext.BaseDirectory, "Fonts");
            string regular = Path.Combine(dir, "DejaVuSans.ttf"), bold = Path.Combine(dir, "DejaVuSans-Bold.ttf");
            if (!File.Exists(regular)) throw new FileNotFoundException($"bundled font missing: {regular}");
            ScottPlot.Fonts.AddFontFile(Family, regular, bold: false, italic: false);
            if (File.Exists(bold)) ScottPlot.Fonts.AddFontFile(Family, bold, bold: true, italic: false);
            ScottPlot.Fonts.Default = Family;
            _done = true;
        }
    }
}
