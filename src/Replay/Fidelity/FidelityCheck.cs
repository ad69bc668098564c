namespace AsiTrace.Replay.Fidelity;

/// <summary>Whether a check's trace figure also informed the model (docs/model.md §9).</summary>
public enum FidelityBasis
{
    /// <summary>The model reached its figure without reading the trace's own value.</summary>
    Prediction,
    /// <summary>The model was seeded or anchored with what it is checked against (pcp lists seeded from the trace's
    /// refills and drains, decay run at the traced drains): agreement is partly by construction.</summary>
    InSample,
    /// <summary>No start snapshot: the model started from a guessed layout (zones from the highest pfn, pcp sizes and
    /// watermarks from the kernel's formulas, free blocks wherever the trace allowed). Its start is not the kernel's,
    /// so the figure cannot judge the model: it is reported, never a pass or a fail.</summary>
    GuessedStart,
}

/// <summary>
/// One trace-vs-model figure of the <c>noasi</c> replay, with the relative tolerance it is held to (null: reported
/// only). Event counts below <see cref="SmallCount"/> are held to an absolute difference of at most
/// <see cref="SmallCountSlack"/> instead: a relative error of 2 against 0 says nothing about the model. A check that
/// could not fail whatever the model did is <see cref="Vacuous"/> and is not a pass.
/// </summary>
public sealed record FidelityCheck(string Name, double Trace, double Model, double? Tolerance, string Note = "", bool IsCount = false)
{
    public const double SmallCount = 200, SmallCountSlack = 20;

    public FidelityBasis Basis { get; init; } = FidelityBasis.Prediction;

    /// <summary>Set by the caller when the trace cannot inform the check (nothing moved on either side).</summary>
    public bool NothingMoved { get; init; }

    /// <summary>For a check that compares two distributions: their distance (0–1), used as the error instead of the
    /// relative difference of <see cref="Trace"/> and <see cref="Model"/>.</summary>
    public double? Distance { get; init; }

    /// <summary>|model − trace| / trace; 0 when both are 0; +∞ when only the trace is 0; the distance for a distribution check.</summary>
    public double RelativeError => Distance ?? (Trace == 0 ? (Model == 0 ? 0 : double.PositiveInfinity) : Math.Abs(Model - Trace) / Math.Abs(Trace));

    /// <summary>A count check where both sides stay within the slack cannot fail; neither can one where nothing moved.</summary>
    public bool Vacuous => NothingMoved || IsCount && Math.Max(Trace, Model) <= SmallCountSlack;

    public bool? WithinTolerance => Tolerance is not { } t || Vacuous || Basis == FidelityBasis.GuessedStart ? null
        : IsCount && Math.Max(Trace, Model) < SmallCount ? Math.Abs(Model - Trace) <= SmallCountSlack
        : RelativeError <= t;

    /// <summary>pass, fail, vacuous (could not fail), no-snapshot (the model's start was guessed) or reported (no target).</summary>
    public string Verdict => Vacuous ? "vacuous" : Basis == FidelityBasis.GuessedStart && Tolerance is not null ? "no-snapshot"
        : WithinTolerance switch { true => "pass", false => "fail", null => "reported" };
}
