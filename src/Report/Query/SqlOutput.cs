using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using CsvHelper;

namespace AsiTrace.Report.Query;

/// <summary>A query result as an aligned table (terminal), CSV or JSON (an array of objects).</summary>
public static class SqlOutput
{
    public static readonly string[] Formats = ["table", "csv", "json"];

    public static void Write(TextWriter w, SqlResult r, string format)
    {
        switch (format)
        {
            case "csv": Csv(w, r); break;
            case "json": Json(w, r); break;
            default: Table(w, r); break;
        }
    }

    static string Text(object? v) => v switch
    {
        null => "",
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        float f => f.ToString("R", CultureInfo.InvariantCulture),
        DateTime t => t.ToString("O", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => v.ToString() ?? "",
    };

    static bool Numeric(object? v) => v is sbyte or byte or short or ushort or int or uint or long or ulong or float or double or decimal or System.Numerics.BigInteger;

    static void Table(TextWriter w, SqlResult r)
    {
        var cells = r.Rows.Select(row => row.Select(Text).ToArray()).ToList();
        var width = r.Columns.Select((c, i) => Math.Max(c.Length, cells.Count == 0 ? 0 : cells.Max(row => row[i].Length))).ToArray();
        w.WriteLine(string.Join("  ", r.Columns.Select((c, i) => c.PadRight(width[i]))).TrimEnd());
        w.WriteLine(string.Join("  ", width.Select(n => new string('-', n))));
        for (int k = 0; k < cells.Count; k++)
            w.WriteLine(string.Join("  ", cells[k].Select((c, i) => Numeric(r.Rows[k][i]) ? c.PadLeft(width[i]) : c.PadRight(width[i]))).TrimEnd());
        w.WriteLine($"({r.Rows.Count} row{(r.Rows.Count == 1 ? "" : "s")})");
    }

    static void Csv(TextWriter w, SqlResult r)
    {
        // The CSV writer works on streams: rows go through a buffer, a batch at a time, in RFC 4180 quoting.
        using var buffer = new MemoryStream();
        using var csv = CsvWriter.Create(buffer, new CsvWriterOptions(), false);
        void Drain()
        {
            csv.Flush();
            w.Write(System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length));
            buffer.SetLength(0);
        }
        csv.WriteRecord(r.Columns.ToArray());
        for (int k = 0; k < r.Rows.Count; k++)
        {
            csv.WriteRecord(r.Rows[k].Select(Text).ToArray());
            if (k % 10_000 == 9_999) Drain();
        }
        Drain();
    }

    static void Json(TextWriter w, SqlResult r)
    {
        var arr = new JsonArray();
        foreach (var row in r.Rows)
        {
            var o = new JsonObject();
            for (int i = 0; i < row.Length; i++) o[r.Columns[i]] = Node(row[i]);
            arr.Add(o);
        }
        w.WriteLine(arr.ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }));
    }

    static JsonNode? Node(object? v) => v switch
    {
        null => null,
        bool b => JsonValue.Create(b),
        double d => double.IsFinite(d) ? JsonValue.Create(d) : null,
        float f => float.IsFinite(f) ? JsonValue.Create(f) : null,
        long or int or short or sbyte or byte or ushort or uint => JsonValue.Create(Convert.ToInt64(v, CultureInfo.InvariantCulture)),
        ulong u => JsonValue.Create(u),
        decimal m => JsonValue.Create(m),
        System.Numerics.BigInteger big => JsonValue.Create(big.ToString(CultureInfo.InvariantCulture)),
        _ => JsonValue.Create(Text(v)),
    };
}
