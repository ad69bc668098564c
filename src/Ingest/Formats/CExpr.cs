using System.Globalization;

namespace AsiTrace.Ingest.Formats;

/// <summary>
/// A small evaluator for the integer C expressions the kernel folds into print-fmt flag tables
/// (docs/formats.md §1): literals with u/U/l/L suffixes, casts such as <c>( gfp_t)</c> or <c>(unsigned long)</c>,
/// unary <c>~ - !</c>, <c>* / %</c>, <c>+ -</c>, <c>&lt;&lt; &gt;&gt;</c>, comparisons, <c>&amp; ^ |</c>, <c>&amp;&amp; ||</c>, <c>?:</c>.
/// Unresolvable identifiers make the evaluation fail rather than guess.
/// </summary>
public static class CExpr
{
    public static bool TryEvaluate(string text, out ulong value)
    {
        var p = new Parser(text);
        try
        {
            value = p.Ternary();
            p.SkipWs();
            return p.AtEnd;
        }
        catch (FormatException) { value = 0; return false; }
    }

    sealed class Parser(string s)
    {
        int i;
        public bool AtEnd => i >= s.Length;
        public void SkipWs() { while (i < s.Length && char.IsWhiteSpace(s[i])) i++; }
        bool Eat(string tok)
        {
            SkipWs();
            if (string.CompareOrdinal(s, i, tok, 0, tok.Length) == 0)
            {
                // do not split "<<" as "<", "&&" as "&", "||" as "|"
                if (tok.Length == 1 && i + 1 < s.Length && (tok is "<" or ">" or "&" or "|") && s[i + 1] == tok[0]) return false;
                if (tok is "<" or ">" && i + 1 < s.Length && s[i + 1] == '=') return false;
                i += tok.Length; return true;
            }
            return false;
        }

        public ulong Ternary()
        {
            ulong c = LogicalOr();
            if (Eat("?"))
            {
                ulong a = Ternary();
                if (!Eat(":")) throw new FormatException("expected ':'");
                ulong b = Ternary();
                return c != 0 ? a : b;
            }
            return c;
        }
        ulong LogicalOr() { ulong v = LogicalAnd(); while (Eat("||")) { ulong r = LogicalAnd(); v = (v != 0 || r != 0) ? 1UL : 0; } return v; }
        ulong LogicalAnd() { ulong v = BitOr(); while (Eat("&&")) { ulong r = BitOr(); v = (v != 0 && r != 0) ? 1UL : 0; } return v; }
        ulong BitOr() { ulong v = BitXor(); while (Eat("|")) v |= BitXor(); return v; }
        ulong BitXor() { ulong v = BitAnd(); while (Eat("^")) v ^= BitAnd(); return v; }
        ulong BitAnd() { ulong v = Equality(); while (Eat("&")) v &= Equality(); return v; }
        ulong Equality()
        {
            ulong v = Relational();
            while (true)
            {
                if (Eat("==")) v = v == Relational() ? 1UL : 0;
                else if (Eat("!=")) v = v != Relational() ? 1UL : 0;
                else return v;
            }
        }
        ulong Relational()
        {
            ulong v = Shift();
            while (true)
            {
                if (Eat("<=")) v = (long)v <= (long)Shift() ? 1UL : 0;
                else if (Eat(">=")) v = (long)v >= (long)Shift() ? 1UL : 0;
                else if (Eat("<")) v = (long)v < (long)Shift() ? 1UL : 0;
                else if (Eat(">")) v = (long)v > (long)Shift() ? 1UL : 0;
                else return v;
            }
        }
        ulong Shift()
        {
            ulong v = Additive();
            while (true)
            {
                if (Eat("<<")) { int n = (int)Additive(); v = n >= 64 ? 0 : v << n; }
                else if (Eat(">>")) { int n = (int)Additive(); v = n >= 64 ? 0 : v >> n; }
                else return v;
            }
        }
        ulong Additive()
        {
            ulong v = Multiplicative();
            while (true)
            {
                if (Eat("+")) v += Multiplicative();
                else if (Eat("-")) v -= Multiplicative();
                else return v;
            }
        }
        ulong Multiplicative()
        {
            ulong v = Unary();
            while (true)
            {
                if (Eat("*")) v *= Unary();
                else if (Eat("/")) { ulong d = Unary(); if (d == 0) throw new FormatException("division by zero"); v /= d; }
                else if (Eat("%")) { ulong d = Unary(); if (d == 0) throw new FormatException("division by zero"); v %= d; }
                else return v;
            }
        }
        ulong Unary()
        {
            if (Eat("~")) return ~Unary();
            if (Eat("!")) return Unary() == 0 ? 1UL : 0;
            if (Eat("-")) return (ulong)-(long)Unary();
            if (Eat("+")) return Unary();
            return Primary();
        }
        ulong Primary()
        {
            SkipWs();
            if (i >= s.Length) throw new FormatException("unexpected end");
            if (s[i] == '(')
            {
                // A cast "( type )" is a parenthesised run of identifiers/stars with no operator.
                int close = s.IndexOf(')', i);
                if (close > i && IsTypeName(s.AsSpan(i + 1, close - i - 1)))
                {
                    i = close + 1;
                    return Unary();
                }
                i++;
                ulong v = Ternary();
                if (!Eat(")")) throw new FormatException("expected ')'");
                return v;
            }
            if (char.IsDigit(s[i]))
            {
                int start = i;
                ulong v;
                if (s[i] == '0' && i + 1 < s.Length && (s[i + 1] == 'x' || s[i + 1] == 'X'))
                {
                    i += 2; int hs = i;
                    while (i < s.Length && Uri.IsHexDigit(s[i])) i++;
                    if (!ulong.TryParse(s.AsSpan(hs, i - hs), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out v))
                        throw new FormatException($"'{s[start..i]}' is not a 64-bit constant");
                }
                else
                {
                    while (i < s.Length && char.IsDigit(s[i])) i++;
                    if (!ulong.TryParse(s.AsSpan(start, i - start), NumberStyles.None, CultureInfo.InvariantCulture, out v))
                        throw new FormatException($"'{s[start..i]}' is not a 64-bit constant");
                }
                while (i < s.Length && (s[i] is 'u' or 'U' or 'l' or 'L')) i++;
                return v;
            }
            throw new FormatException($"cannot evaluate at '{s[i..Math.Min(s.Length, i + 20)]}'");
        }

        static bool IsTypeName(ReadOnlySpan<char> inner)
        {
            var t = inner.Trim();
            if (t.IsEmpty) return false;
            bool anyLetter = false;
            foreach (char c in t)
            {
                if (char.IsLetter(c) || c == '_') anyLetter = true;
                else if (!(char.IsDigit(c) || c == ' ' || c == '*')) return false;
            }
            if (!anyLetter) return false;
            // Known C type words only: an identifier we cannot resolve must not be taken for a cast.
            foreach (var word in t.ToString().Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                var w = word.TrimEnd('*');
                if (w.Length == 0) continue;
                if (!(w is "unsigned" or "signed" or "long" or "int" or "short" or "char" or "void" or "const" or "struct"
                      || w.EndsWith("_t", StringComparison.Ordinal) || w is "u8" or "u16" or "u32" or "u64" or "s8" or "s16" or "s32" or "s64" or "page"))
                    return false;
            }
            return true;
        }
    }
}
