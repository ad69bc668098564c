namespace AsiTrace.Ingest.Pipeline;

/// <summary>How to open inputs. Every field has the default a user would expect.</summary>
public sealed record IngestOptions
{
    public InputFormat Format { get; init; } = InputFormat.Auto;
    /// <summary>Kernel release of the traced machine (e.g. <c>6.18.44</c>) when the input does not say; picks the built-in gfp table.</summary>
    public string? KernelRelease { get; init; }
    /// <summary>A directory with event <c>format</c> files (<c>kmem.mm_page_alloc.format</c>, …) whose flag tables decode the trace.</summary>
    public string? FormatDir { get; init; }
    public long SortWindowNs { get; init; } = Sorting.TimestampMerger.DefaultWindowNs;
    public int SortCapacity { get; init; } = Sorting.TimestampMerger.DefaultCapacity;
}
