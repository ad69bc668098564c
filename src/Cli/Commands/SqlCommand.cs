using System.CommandLine;
using AsiTrace.Report.Query;

namespace AsiTrace.Cli.Commands;

/// <summary><c>asitrace sql QUERY [PATH...]</c>: SQL over events and results files through embedded DuckDB.</summary>
static class SqlCommand
{
    public static Command Build()
    {
        var query = new Argument<string>("query") { Description = "the SQL (DuckDB dialect); views: events, " + string.Join(", ", SqlSession.ResultsViews) };
        var paths = new Argument<string[]>("path") { Description = "Parquet files, directories (searched recursively; key=value directories become columns) or globs; default: the current directory", Arity = ArgumentArity.ZeroOrMore };
        var format = new Option<string>("--format") { Description = "table (aligned, for a terminal), csv or json", DefaultValueFactory = _ => "table" };
        format.AcceptOnlyFromAmong(SqlOutput.Formats);
        var cmd = new Command("sql", "Run SQL over events and results files with embedded DuckDB: each kind of file is a view (events, totals, series, fidelity, attribution, requests, pageblocks, mix, corpus)")
        {
            query, paths, format,
        };
        cmd.SetAction(pr => CliRunner.Guard(() =>
        {
            var given = pr.GetValue(paths) is { Length: > 0 } p ? p : ["."];
            SqlSession session;
            try { session = new SqlSession(given); }
            catch (InvalidDataException e) { Console.Error.WriteLine($"asitrace: invalid input: {e.Message}"); return ExitCodes.InvalidInput; }
            using var owned = session;
            SqlResult result;
            try { result = session.Run(pr.GetValue(query)!); }
            catch (SqlQueryException e)
            {
                Console.Error.WriteLine($"asitrace: sql: {e.Message.ReplaceLineEndings(" ")}");
                Console.Error.WriteLine($"views: {string.Join(", ", session.Views.Select(v => $"{v.Key} ({v.Value.Count} file{(v.Value.Count == 1 ? "" : "s")})"))}");
                return ExitCodes.Usage;
            }
            catch (InvalidDataException e) { Console.Error.WriteLine($"asitrace: invalid input: {e.Message.ReplaceLineEndings(" ")}"); return ExitCodes.InvalidInput; }
            catch (InvalidOperationException e) { Console.Error.WriteLine($"asitrace: sql: {e.Message}"); return ExitCodes.Usage; }
            SqlOutput.Write(Console.Out, result, pr.GetValue(format)!);
            return ExitCodes.Ok;
        }));
        return cmd;
    }
}
