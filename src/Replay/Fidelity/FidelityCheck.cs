namespace AsiTrace.Replay.Fidelity;

/// <summary>
/// One trace-vs-model figure of the <c>noasi</c> replay, with the relative tolerance it is held to (null: reported
/// only). Event counts below <see cref="SmallCount"/> are held to an absolute difference of at most
/// <see cref="SmallCountSlack"/> instead: a relative error of 2 against 0 says nothing about the model.
/// </summary>
public sealed record FidelityCheck(string Name, double Trace, double Model, double? Tolerance, string Note = "", bool IsCount = false)
{
    public const double SmallCount = 100, SmallCountSlack = 10;

    /// <summary>|model − trace| / trace; 0 when both are 0; +∞ when only the trace is 0.</summary>
    public double RelativeError => Trace == 0 ? (Model == 0 ? 0 : double.PositiveInfinity) : Math.Abs(Model - Trace) / Math.Abs(Trace);
    public bool? WithinTolerance => Tolerance is not { } t ? null
        : IsCount && Math.Max(Trace, Model) < SmallCount ? Math.Abs(Model - Trace) <= SmallCountSlack
        : RelativeError <= t;
}
