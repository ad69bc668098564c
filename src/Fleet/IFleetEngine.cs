namespace AsiTrace.Fleet;

/// <summary>Where a fleet's tasks run: this machine (<see cref="LocalEngine"/>) or a Slurm cluster (<see cref="SlurmEngine"/>).</summary>
public interface IFleetEngine
{
    string Name { get; }
    /// <summary>Runs the plan's tasks <paramref name="indexes"/>; each leaves its <c>fleet.json</c>.</summary>
    void Run(FleetPlan plan, IReadOnlyList<int> indexes, int policies, FleetProgress progress);
}
