using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace AsiTrace.Fleet;

/// <summary>
/// What a fleet run does, written to <c>OUT/.fleet/plan.json</c> so that every task, local or on a Slurm node, reads the
/// same thing: the traces, the replay options, and the command that runs one task.
/// </summary>
public sealed record FleetPlan(string OutDir, IReadOnlyList<string> Command, IReadOnlyList<string> ReplayArgs, IReadOnlyList<FleetTrace> Traces)
{
    static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    /// <summary>SHA-256 of the replay options and the tool's version: results made with other options are not reused.</summary>
    public string OptionsSha256 => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(
        string.Join('\0', ReplayArgs) + "\0" + (typeof(FleetPlan).Assembly.GetName().Version?.ToString() ?? ""))));

    public string PlanPath => Path.Combine(OutDir, ".fleet", "plan.json");

    public string TraceDir(FleetTrace t) => Path.Combine(OutDir, $"trace={t.Id}");

    public void Save()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(PlanPath)!);
        string tmp = PlanPath + ".tmp";
        File.WriteAllText(tmp, JsonSerializer.Serialize(this, Json));
        File.Move(tmp, PlanPath, overwrite: true);
    }

    public static FleetPlan Load(string path)
    {
        try { return JsonSerializer.Deserialize<FleetPlan>(File.ReadAllText(path)) ?? throw new InvalidDataException($"{path}: empty plan"); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: not a fleet plan ({e.Message})"); }
    }
}
