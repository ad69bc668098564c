using AsiTrace.Model.Alloc;

namespace AsiTrace.Replay.Results;

/// <summary>Migratetype numbers as the results files carry them (<c>mix.parquet</c>), named for readers of the results
/// (Report may not reach into the model).</summary>
public static class MigratetypeNames
{
    public static string Of(int migratetype) => Migratetype.Name(migratetype).ToLowerInvariant();
}
