using AsiTrace.Ingest.Canonical;
using CsvHelper;

namespace AsiTrace.Ingest.Csv;

/// <summary>Writes canonical events as CSV with the schema's column names (the form <see cref="CsvEventReader"/> reads).</summary>
public sealed class CsvEventWriter : IDisposable
{
    readonly CsvWriter _w;
    public long EventsWritten { get; private set; }

    public CsvEventWriter(Stream output)
    {
        _w = CsvWriter.Create(output, new CsvWriterOptions(), true);
        _w.WriteHeader(CsvColumns.All);
    }

    public void Write(ReadOnlySpan<TraceEvent> events, CommTable comms)
    {
        foreach (ref readonly var e in events)
        {
            var f = e.Fields;
            _w.WriteField(e.TsNs, default);
            _w.WriteField(e.Cpu, default);
            Opt(f, EventFields.Pid, e.Pid);
            if ((f & EventFields.Comm) != 0) _w.WriteField(comms[e.CommId]); else _w.WriteField("");
            _w.WriteField(EventKinds.Name(e.Kind));
            Opt(f, EventFields.Pfn, e.Pfn);
            Opt(f, EventFields.Order, e.Order);
            Opt(f, EventFields.Gfp, e.Gfp);
            Opt(f, EventFields.Migratetype, e.Migratetype);
            OptBool(f, EventFields.PercpuRefill, e.PercpuRefill);
            Opt(f, EventFields.FallbackOrder, e.FallbackOrder);
            Opt(f, EventFields.AllocMigratetype, e.AllocMigratetype);
            Opt(f, EventFields.FallbackMigratetype, e.FallbackMigratetype);
            OptBool(f, EventFields.ChangeOwnership, e.ChangeOwnership);
            Opt(f, EventFields.TlbReason, e.TlbReason);
            Opt(f, EventFields.TlbPages, e.TlbPages);
            Opt(f, EventFields.PrevPid, e.PrevPid);
            Opt(f, EventFields.NextPid, e.NextPid);
            Opt(f, EventFields.PrevState, e.PrevState);
            Opt(f, EventFields.Ino, e.Ino);
            Opt(f, EventFields.Index, e.Index);
            Opt(f, EventFields.Dev, e.Dev);
            Opt(f, EventFields.Lost, e.Lost);
            Opt(f, EventFields.Bytes, e.Bytes);
            Opt(f, EventFields.MigratedPages, e.MigratedPages);
            Opt(f, EventFields.MigrateReason, e.MigrateReason);
            _w.EndRecord();
            EventsWritten++;
        }
    }

    void Opt<T>(EventFields have, EventFields want, T value) where T : struct, IUtf8SpanFormattable
    {
        if ((have & want) != 0) _w.WriteField(value, default);
        else _w.WriteField("");
    }

    void OptBool(EventFields have, EventFields want, byte value)
    {
        if ((have & want) != 0) _w.WriteField(value != 0 ? "true" : "false");
        else _w.WriteField("");
    }

    public void Dispose()
    {
        _w.Flush();
        _w.Dispose();
    }
}
