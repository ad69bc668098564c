using System.Runtime.CompilerServices;

namespace AsiTrace.Model.Alloc;

/// <summary>Which ASI series' freetype layout the buddy lists use (docs/model.md §7.1, §7.2).</summary>
public enum FreetypeLayout
{
    /// <summary>Mainline: a freetype is a migratetype.</summary>
    None,
    /// <summary>"mm: ASI direct map management" (Sep 2025): migratetype × sensitivity; flag 1 = sensitive
    /// (<c>PB_nonsensitive</c> clear), index = MIGRATE_TYPES × sensitive + migratetype.</summary>
    Sensitivity,
    /// <summary><c>__GFP_UNMAPPED</c> (2026): flag 1 = unmapped, which only UNMOVABLE has (index MIGRATE_TYPES).</summary>
    Unmapped,
}

/// <summary>
/// <c>freetype_t</c> as an index: migratetype + MIGRATE_TYPES × flag. With <see cref="FreetypeLayout.None"/> the flag is
/// always 0 and a freetype is its migratetype, so the mainline model is unchanged.
/// </summary>
public static class Freetype
{
    public const int Flags = 2, Count = Migratetype.Count * Flags;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Mt(int ft) => ft % Migratetype.Count;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Flag(int ft) => ft / Migratetype.Count;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Make(int mt, int flag) => flag * Migratetype.Count + mt;
    /// <summary>The same migratetype with the other flag (opposite sensitivity / mapped ↔ unmapped).</summary>
    public static int Opposite(int ft) => Make(Mt(ft), 1 - Flag(ft));

    /// <summary><c>can_merge_freetypes()</c>: equal types merge; a non-mergeable migratetype never merges with another
    /// type; otherwise the flags must agree (migratetypes may differ, with the usual relabelling).</summary>
    public static bool CanMerge(int a, int b) =>
        a == b || (Migratetype.IsMergeable(Mt(a)) && Migratetype.IsMergeable(Mt(b)) && Flag(a) == Flag(b));

    /// <summary>Does this freetype have free lists under <paramref name="layout"/>?</summary>
    public static bool Exists(int ft, FreetypeLayout layout) => layout switch
    {
        FreetypeLayout.None => Flag(ft) == 0,
        FreetypeLayout.Unmapped => Flag(ft) == 0 || Mt(ft) == Migratetype.Unmovable,
        _ => true,
    };

    public static string Name(int ft, FreetypeLayout layout) => Flag(ft) == 0
        ? (layout == FreetypeLayout.Sensitivity ? Migratetype.Name(Mt(ft)) + "-nonsensitive" : Migratetype.Name(Mt(ft)))
        : Migratetype.Name(Mt(ft)) + (layout == FreetypeLayout.Unmapped ? "-unmapped" : "-sensitive");
}
