namespace AsiTrace.Replay.Results;

/// <summary>One point of a sweep (<see cref="Synth.Sweep"/>): a policy's latency and CPU time at one value of the swept
/// parameter.</summary>
public readonly record struct SweepPoint(double Value, string Policy, double LatencyNs, double CpuNs);
