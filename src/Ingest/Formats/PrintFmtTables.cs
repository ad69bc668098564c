namespace AsiTrace.Ingest.Formats;

/// <summary>
/// Extracts the <c>__print_flags</c> and <c>__print_symbolic</c> tables of a print fmt (docs/formats.md §1, §4.2),
/// evaluating each mask with <see cref="CExpr"/>. This is what lets a trace from any kernel name its own gfp bits
/// and tlb_flush reasons without our built-in tables.
/// </summary>
public static class PrintFmtTables
{
    /// <summary>Returns the (value, name) entries of the first <paramref name="function"/> call whose first
    /// argument mentions <c>REC-&gt;<paramref name="field"/></c>, or null when the print fmt has none or a mask
    /// cannot be evaluated (e.g. the unresolved <c>___GFP_*_BIT</c> names of 6.10–6.13).</summary>
    public static List<(ulong Value, string Name)>? Find(string printFmt, string function, string field)
    {
        int pos = 0;
        while (true)
        {
            int at = printFmt.IndexOf(function + "(", pos, StringComparison.Ordinal);
            if (at < 0) return null;
            int argsStart = at + function.Length + 1;
            int end = MatchParen(printFmt, argsStart - 1);
            if (end < 0) return null;
            var args = SplitTopLevel(printFmt, argsStart, end);
            pos = end;
            if (args.Count < 2 || !args[0].Contains("REC->" + field, StringComparison.Ordinal)) continue;
            int first = function == "__print_flags" ? 2 : 1;
            var table = new List<(ulong, string)>();
            for (int i = first; i < args.Count; i++)
            {
                var a = args[i].Trim();
                if (a.Length < 2 || a[0] != '{' || a[^1] != '}') return null;
                var inner = SplitTopLevel(a, 1, a.Length - 1);
                if (inner.Count != 2) return null;
                var nameText = inner[1].Trim();
                if (!nameText.StartsWith('"')) continue; // { 0, ((void *)0) } terminator / NULL
                string name = nameText.Trim('"');
                if (!CExpr.TryEvaluate(inner[0], out ulong v)) return null;
                table.Add((v, name));
            }
            return table;
        }
    }

    static int MatchParen(string s, int open)
    {
        int depth = 0; bool inStr = false;
        for (int i = open; i < s.Length; i++)
        {
            char c = s[i];
            if (inStr) { if (c == '\\') i++; else if (c == '"') inStr = false; continue; }
            if (c == '"') inStr = true;
            else if (c == '(' || c == '{') depth++;
            else if (c == ')' || c == '}') { depth--; if (depth == 0) return i; }
        }
        return -1;
    }

    static List<string> SplitTopLevel(string s, int start, int end)
    {
        var parts = new List<string>();
        int depth = 0, from = start; bool inStr = false;
        for (int i = start; i < end; i++)
        {
            char c = s[i];
            if (inStr) { if (c == '\\') i++; else if (c == '"') inStr = false; continue; }
            if (c == '"') inStr = true;
            else if (c == '(' || c == '{') depth++;
            else if (c == ')' || c == '}') depth--;
            else if (c == ',' && depth == 0) { parts.Add(s[from..i]); from = i + 1; }
        }
        parts.Add(s[from..end]);
        return parts;
    }
}
