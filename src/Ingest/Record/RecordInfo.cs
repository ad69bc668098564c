using System.Text.Json;
using AsiTrace.Ingest.Input;

namespace AsiTrace.Ingest.Record;

/// <summary>What a record directory's <c>record.json</c> says that the replay uses: the untraced baseline run of the
/// command, and the recorder's own threads.</summary>
public sealed record RecordInfo(BaselineRun? Baseline, IReadOnlyList<int> UntracedTids)
{
    /// <summary>Reads <c>DIR/record.json</c>; null when there is none. A file that is not the recorder's JSON is an error
    /// naming it.</summary>
    public static RecordInfo? Load(string dir)
    {
        string path = Path.Combine(dir, "record.json");
        if (!File.Exists(path)) return null;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            var root = doc.RootElement;
            BaselineRun? baseline = null;
            if (root.TryGetProperty("baseline", out var b) && b.ValueKind == JsonValueKind.Object)
                baseline = new BaselineRun(b.GetProperty("cpu_ns").GetDouble(), b.GetProperty("wall_s").GetDouble());
            var tids = new List<int>();
            if (root.TryGetProperty("untraced_tids", out var t) && t.ValueKind == JsonValueKind.Array)
                foreach (var x in t.EnumerateArray()) tids.Add(x.GetInt32());
            return new RecordInfo(baseline, tids);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new InvalidTraceException(path, "record.json", $"not a record.json written by asitrace record ({e.Message})");
        }
    }
}
