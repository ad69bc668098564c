using System.Data.Common;
using System.Text.RegularExpressions;
using DuckDB.NET.Data;

namespace AsiTrace.Report.Query;

/// <summary>A query's result: column names and rows of values (null for SQL NULL).</summary>
public sealed record SqlResult(IReadOnlyList<string> Columns, IReadOnlyList<object?[]> Rows);

/// <summary>The query itself is wrong (DuckDB's parser or binder refused it): a usage error, with DuckDB's message.</summary>
public sealed class SqlQueryException(string message) : Exception(message);

/// <summary>
/// <c>asitrace sql</c>: embedded DuckDB with a view per kind of file found under the given paths. Results files take
/// their own names (<c>totals</c>, <c>series</c>, <c>fidelity</c>, <c>attribution</c>, <c>requests</c>, <c>pageblocks</c>,
/// <c>mix</c>, <c>corpus</c>); any other Parquet file is an events file (<c>asitrace ingest</c>) and joins the <c>events</c>
/// view. Files of one kind in many directories are read together with hive partitioning (a fleet's
/// <c>trace=&lt;id&gt;/</c> directories become a <c>trace</c> column) and columns matched by name.
/// </summary>
public sealed class SqlSession : IDisposable
{
    public static readonly string[] ResultsViews = ["totals", "series", "fidelity", "attribution", "requests", "pageblocks", "mix", "corpus"];
    /// <summary>Rows a query may return before the output is cut (a terminal table of millions of rows helps nobody).</summary>
    public const int MaxRows = 10_000_000;

    readonly DuckDBConnection _con;
    public IReadOnlyDictionary<string, IReadOnlyList<string>> Views { get; }

    public SqlSession(IEnumerable<string> paths)
    {
        var files = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var path in paths) foreach (var (view, file) in Discover(path)) (files.TryGetValue(view, out var l) ? l : files[view] = new()).Add(file);
        _con = new DuckDBConnection("DataSource=:memory:");
        _con.Open();
        foreach (var (view, list) in files)
        {
            string sources = "[" + string.Join(", ", list.Distinct().Order(StringComparer.Ordinal).Select(Literal)) + "]";
            // Hive partitioning only where every file sits below a key=value directory, so plain paths never grow columns.
            bool hive = list.All(f => Regex.IsMatch(f, @"[\\/][A-Za-z_][A-Za-z0-9_]*=[^\\/]+[\\/]"));
            try { Execute($"CREATE VIEW \"{view}\" AS SELECT * FROM read_parquet({sources}, union_by_name = true, hive_partitioning = {(hive ? "true" : "false")})"); }
            catch (DuckDBException e)
            {
                _con.Dispose();
                throw new InvalidDataException($"{string.Join(", ", list)}: cannot be read as Parquet ({e.Message.ReplaceLineEndings(" ")})");
            }
        }
        Views = files.ToDictionary(p => p.Key, p => (IReadOnlyList<string>)p.Value, StringComparer.Ordinal);
    }

    /// <summary>The Parquet files under <paramref name="path"/> (a file, a directory searched recursively, or a glob) with
    /// the view each belongs to.</summary>
    static IEnumerable<(string View, string File)> Discover(string path)
    {
        IEnumerable<string> found;
        if (path.IndexOfAny(['*', '?', '[']) >= 0)
        {
            string root = Path.GetDirectoryName(path[..(path.IndexOfAny(['*', '?', '[']) is var i and >= 0 ? i : path.Length)] + "x") ?? ".";
            if (root.Length == 0) root = ".";
            if (!Directory.Exists(root)) throw new DirectoryNotFoundException($"{path}: no directory {root}");
            string full = Path.GetFullPath(path);
            var glob = new Regex("^" + Regex.Escape(full).Replace(@"\*\*/", "(.*/)?").Replace(@"\*", "[^/]*").Replace(@"\?", "[^/]") + "$");
            found = Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories).Select(Path.GetFullPath).Where(f => glob.IsMatch(f));
        }
        else if (Directory.Exists(path)) found = Directory.EnumerateFiles(path, "*.parquet", SearchOption.AllDirectories);
        else if (File.Exists(path)) found = [path];
        else throw new FileNotFoundException($"{path}: no such file or directory");
        int n = 0;
        foreach (var f in found.Order(StringComparer.Ordinal))
        {
            if (!f.EndsWith(".parquet", StringComparison.OrdinalIgnoreCase)) continue;
            n++;
            string stem = Path.GetFileNameWithoutExtension(f);
            yield return (ResultsViews.Contains(stem) ? stem : "events", Path.GetFullPath(f));
        }
        if (n == 0) throw new FileNotFoundException($"{path}: no Parquet file (.parquet) there");
    }

    static string Literal(string s) => "'" + s.Replace("'", "''") + "'";

    void Execute(string sql)
    {
        using var cmd = _con.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    /// <summary>Runs <paramref name="sql"/>. A query DuckDB cannot parse or bind throws <see cref="SqlQueryException"/>;
    /// a file it cannot read throws <see cref="InvalidDataException"/>.</summary>
    public SqlResult Run(string sql)
    {
        try
        {
            using var cmd = _con.CreateCommand();
            cmd.CommandText = sql;
            using DbDataReader rd = cmd.ExecuteReader();
            var cols = Enumerable.Range(0, rd.FieldCount).Select(rd.GetName).ToList();
            var rows = new List<object?[]>();
            while (rd.Read())
            {
                if (rows.Count == MaxRows) throw new InvalidOperationException($"the query returns more than {MaxRows:N0} rows; add a LIMIT or aggregate");
                var row = new object?[cols.Count];
                for (int i = 0; i < row.Length; i++) row[i] = rd.IsDBNull(i) ? null : rd.GetValue(i);
                rows.Add(row);
            }
            return new SqlResult(cols, rows);
        }
        catch (DuckDBException e) when (IsQueryError(e.Message)) { throw new SqlQueryException(e.Message); }
        catch (DuckDBException e) { throw new InvalidDataException(e.Message); }
    }

    /// <summary>DuckDB's message kinds for a wrong query (the rest are the data's or the machine's fault).</summary>
    static bool IsQueryError(string message) =>
        message.Contains("Parser Error", StringComparison.Ordinal) || message.Contains("Binder Error", StringComparison.Ordinal)
        || message.Contains("Catalog Error", StringComparison.Ordinal) || message.Contains("Syntax Error", StringComparison.Ordinal)
        || message.Contains("Not implemented Error", StringComparison.Ordinal) || message.Contains("Conversion Error", StringComparison.Ordinal)
        || message.Contains("Invalid Input Error", StringComparison.Ordinal) && !message.Contains("parquet", StringComparison.OrdinalIgnoreCase);

    public void Dispose() => _con.Dispose();
}
