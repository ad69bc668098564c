using AsiTrace.Replay;

namespace AsiTrace.Tests.Replay;

/// <summary>The fidelity tests' rule: every check with a target passes or is vacuous, unless it is a listed miss, which
/// must still fail with the error it was listed with (±0.002), so the list stays true when the model changes.</summary>
static class FidelityMisses
{
    public static void AssertOnlyListedMissesFail(ReplayResult r, string name, IEnumerable<(string Dir, string Check, double Error)> misses)
    {
        var listed = misses.Where(k => k.Dir == name).ToList();
        foreach (var f in r.Fidelity.Where(f => f.Tolerance is not null))
        {
            var known = listed.Where(k => k.Check == f.Name).ToList();
            if (known.Count == 1)
            {
                Xunit.Assert.Equal("fail", f.Verdict);
                Xunit.Assert.InRange(f.RelativeError, known[0].Error - 0.002, known[0].Error + 0.002);
            }
            else Xunit.Assert.True(f.Verdict is "pass" or "vacuous", $"{name}: {f.Name} trace {f.Trace} model {f.Model} ({f.RelativeError:P1}) {f.Verdict}");
        }
        foreach (var k in listed) Xunit.Assert.Contains(r.Fidelity, f => f.Name == k.Check);
    }
}
