using System.Globalization;

namespace AsiTrace.Ingest.Formats;

/// <summary>One field of an event format description (docs/formats.md §1).</summary>
public sealed record FormatField(string Name, string CType, int Offset, int Size, bool Signed, bool IsArray, bool IsDataLoc, bool IsRelLoc);

/// <summary>
/// A parsed <c>events/&lt;system&gt;/&lt;event&gt;/format</c> description: id, field table and print fmt.
/// The same text is embedded in trace.dat and perf.data, so the binary readers share this parser.
/// </summary>
public sealed class EventFormat
{
    public required string System { get; init; }
    public required string Name { get; init; }
    public required int Id { get; init; }
    public required IReadOnlyList<FormatField> Fields { get; init; }
    public required string PrintFmt { get; init; }

    public FormatField? Field(string name)
    {
        foreach (var f in Fields) if (f.Name == name) return f;
        return null;
    }

    /// <summary>Parses a format description; throws <see cref="FormatException"/> naming the line on bad input.</summary>
    public static EventFormat Parse(string text, string system = "")
    {
        string? name = null; int id = -1; string printFmt = "";
        var fields = new List<FormatField>();
        int lineNo = 0;
        foreach (var raw in text.Split('\n'))
        {
            lineNo++;
            var line = raw.TrimEnd('\r');
            var t = line.Trim();
            if (t.StartsWith("name:", StringComparison.Ordinal)) name = t[5..].Trim();
            else if (t.StartsWith("ID:", StringComparison.Ordinal))
            {
                if (!int.TryParse(t[3..].Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out id))
                    throw new FormatException($"line {lineNo}: bad ID '{t}'");
            }
            else if (t.StartsWith("field:", StringComparison.Ordinal)) fields.Add(ParseField(t, lineNo));
            else if (t.StartsWith("print fmt:", StringComparison.Ordinal)) printFmt = t[10..].Trim();
        }
        if (name is null) throw new FormatException("format description has no 'name:' line");
        return new EventFormat { System = system, Name = name, Id = id, Fields = fields, PrintFmt = printFmt };
    }

    /// <summary>The <c>field:</c> lines of a description without a name (<c>header_page</c>, <c>header_event</c>).</summary>
    public static List<FormatField> ParseFields(string text)
    {
        var fields = new List<FormatField>();
        int lineNo = 0;
        foreach (var raw in text.Split('\n'))
        {
            lineNo++;
            var t = raw.Trim();
            if (t.StartsWith("field:", StringComparison.Ordinal)) fields.Add(ParseField(t, lineNo));
        }
        return fields;
    }

    static FormatField ParseField(string t, int lineNo)
    {
        // field:<decl>;	offset:<n>;	size:<n>;	signed:<0|1>;
        var parts = t.Split(';');
        if (parts.Length < 3) throw new FormatException($"line {lineNo}: bad field line '{t}'");
        string decl = parts[0]["field:".Length..].Trim();
        int offset = -1, size = -1; bool signed = false;
        foreach (var p in parts.AsSpan(1))
        {
            var kv = p.Trim();
            if (kv.StartsWith("offset:", StringComparison.Ordinal)) { if (!int.TryParse(kv[7..], NumberStyles.None, CultureInfo.InvariantCulture, out offset)) offset = -1; }
            else if (kv.StartsWith("size:", StringComparison.Ordinal)) { if (!int.TryParse(kv[5..], NumberStyles.None, CultureInfo.InvariantCulture, out size)) size = -1; }
            else if (kv.StartsWith("signed:", StringComparison.Ordinal)) signed = kv[7..].Trim() == "1";
        }
        if (offset < 0 || size < 0 || offset > 65535 || size > 65535)
            throw new FormatException($"line {lineNo}: field without a sane offset/size '{t}'");
        bool dataLoc = decl.StartsWith("__data_loc ", StringComparison.Ordinal);
        bool relLoc = decl.StartsWith("__rel_loc ", StringComparison.Ordinal);
        string d = decl;
        bool isArray = false;
        int br = d.IndexOf('[');
        if (br >= 0) { isArray = true; d = d[..br].TrimEnd(); }
        int sp = d.LastIndexOfAny([' ', '*']);
        string fname = sp >= 0 ? d[(sp + 1)..] : d;
        string ctype = sp >= 0 ? d[..sp].Trim() : "";
        return new FormatField(fname, ctype, offset, size, signed, isArray && !dataLoc && !relLoc, dataLoc, relLoc);
    }
}
