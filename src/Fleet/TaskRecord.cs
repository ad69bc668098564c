using System.Text.Json;
using System.Text.Json.Serialization;

namespace AsiTrace.Fleet;

/// <summary><c>trace=&lt;id&gt;/fleet.json</c>: how one trace's task went. Written last, so its presence with status
/// <c>ok</c> and the same options means the results beside it are complete.</summary>
public sealed record TaskRecord
{
    [JsonPropertyName("trace")] public string Trace { get; init; } = "";
    [JsonPropertyName("input")] public string Input { get; init; } = "";
    [JsonPropertyName("input_sha256")] public string InputSha256 { get; init; } = "";
    [JsonPropertyName("options_sha256")] public string OptionsSha256 { get; init; } = "";
    /// <summary>ok or failed.</summary>
    [JsonPropertyName("status")] public string Status { get; init; } = "";
    [JsonPropertyName("exit_code")] public int ExitCode { get; init; }
    [JsonPropertyName("error")] public string? Error { get; init; }
    [JsonPropertyName("events")] public long Events { get; init; }
    [JsonPropertyName("wall_ms")] public long WallMs { get; init; }
    /// <summary>The task process's peak resident memory (VmHWM), bytes.</summary>
    [JsonPropertyName("peak_rss_bytes")] public long PeakRssBytes { get; init; }
    [JsonPropertyName("headline")] public string? Headline { get; init; }
    [JsonPropertyName("engine")] public string Engine { get; init; } = "";

    static readonly JsonSerializerOptions Options = new() { WriteIndented = true };

    public static string FileIn(string traceDir) => Path.Combine(traceDir, "fleet.json");

    public void Save(string traceDir)
    {
        string path = FileIn(traceDir), tmp = path + ".tmp";
        File.WriteAllText(tmp, JsonSerializer.Serialize(this, Options));
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>The record in <paramref name="traceDir"/>, or null when there is none or it cannot be read (a task killed
    /// while writing it has not finished).</summary>
    public static TaskRecord? TryLoad(string traceDir)
    {
        try { return JsonSerializer.Deserialize<TaskRecord>(File.ReadAllText(FileIn(traceDir))); }
        catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException) { return null; }
    }
}
