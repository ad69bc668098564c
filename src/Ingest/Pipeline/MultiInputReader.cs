using AsiTrace.Ingest.Canonical;

namespace AsiTrace.Ingest.Pipeline;

/// <summary>
/// Merges several time-ordered inputs (e.g. per-CPU <c>per_cpu/cpuN/trace</c> files) into one stream by timestamp,
/// re-mapping each input's comm ids into one table. Stats and metadata are combined.
/// </summary>
public sealed class MultiInputReader : IEventReader
{
    readonly IEventReader[] _inputs;
    readonly TraceEvent[][] _buf;
    readonly int[] _pos, _len;
    readonly int[][] _commMap;
    readonly bool[] _done;
    public TraceMetadata Metadata { get; }
    public TraceStats Stats { get; } = new();
    public CommTable Comms { get; } = new();
    bool _statsMerged;

    public MultiInputReader(IReadOnlyList<IEventReader> inputs)
    {
        _inputs = inputs.ToArray();
        int k = _inputs.Length;
        _buf = new TraceEvent[k][];
        for (int i = 0; i < k; i++) _buf[i] = new TraceEvent[4096];
        _pos = new int[k]; _len = new int[k]; _done = new bool[k];
        _commMap = new int[k][];
        for (int i = 0; i < k; i++) _commMap[i] = [];
        Metadata = _inputs[0].Metadata;
        for (int i = 1; i < k; i++)
        {
            var m = _inputs[i].Metadata;
            Metadata.Inputs.AddRange(m.Inputs);
            if (m.SourceFormat != Metadata.SourceFormat) Metadata.SourceFormat = "mixed";
            Metadata.CpuCount = Math.Max(Metadata.CpuCount, m.CpuCount);
            Metadata.KernelRelease ??= m.KernelRelease;
            Metadata.Clock ??= m.Clock;
        }
    }

    public long BytesConsumed
    {
        get { long s = 0; foreach (var r in _inputs) s += r.BytesConsumed; return s; }
    }

    public int Read(Span<TraceEvent> dest)
    {
        int n = 0;
        while (n < dest.Length)
        {
            int best = -1;
            for (int i = 0; i < _inputs.Length; i++)
            {
                if (_pos[i] == _len[i] && !Refill(i)) continue;
                if (best < 0 || _buf[i][_pos[i]].TsNs < _buf[best][_pos[best]].TsNs) best = i;
            }
            if (best < 0) break;
            ref var e = ref dest[n++];
            e = _buf[best][_pos[best]++];
            if ((e.Fields & EventFields.Comm) != 0) e.CommId = MapComm(best, e.CommId);
        }
        if (n == 0 && !_statsMerged)
        {
            _statsMerged = true;
            foreach (var r in _inputs) Stats.Merge(r.Stats);
        }
        return n;
    }

    bool Refill(int i)
    {
        if (_done[i]) return false;
        _len[i] = _inputs[i].Read(_buf[i]);
        _pos[i] = 0;
        if (_len[i] == 0) { _done[i] = true; return false; }
        return true;
    }

    int MapComm(int input, int id)
    {
        ref var map = ref _commMap[input];
        if (id >= map.Length)
        {
            int old = map.Length;
            Array.Resize(ref map, Math.Max(id + 1, old * 2 + 16));
            for (int j = old; j < map.Length; j++) map[j] = -1;
        }
        if (map[id] < 0) map[id] = Comms.Intern(_inputs[input].Comms[id]);
        return map[id];
    }

    public void Dispose() { foreach (var r in _inputs) r.Dispose(); }
}
