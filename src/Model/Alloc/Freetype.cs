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
/// <c>freetype_t</c>: a migratetype plus one flag (sensitive, or unmapped), as an index: migratetype + MIGRATE_TYPES × flag.
/// With <see cref="FreetypeLayout.None"/> the flag is always 0 and a freetype is its migratetype, so the mainline model is
/// unchanged. Its own type so that a freetype is never passed where a bare migratetype is meant, or the reverse.
/// </summary>
public readonly record struct Freetype(int Index)
{
    public const int Flags = 2, Count = Migratetype.Count * Flags;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Freetype Make(int migratetype, int flag) => new(flag * Migratetype.Count + migratetype);

    /// <summary>The freetype of a migratetype without a flag (mainline).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Freetype OfMigratetype(int migratetype) => new(migratetype);

    /// <summary>The migratetype part.</summary>
    public int Mt { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => Index % Migratetype.Count; }

    /// <summary>The flag: 1 = sensitive (<see cref="FreetypeLayout.Sensitivity"/>) or unmapped (<see cref="FreetypeLayout.Unmapped"/>).</summary>
    public int Flag { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => Index / Migratetype.Count; }

    /// <summary>The same migratetype with the other flag (opposite sensitivity / mapped ↔ unmapped).</summary>
    public Freetype Opposite => Make(Mt, 1 - Flag);

    /// <summary>The same flag with another migratetype.</summary>
    public Freetype WithMigratetype(int migratetype) => Make(migratetype, Flag);

    /// <summary><c>can_merge_freetypes()</c>: equal types merge; a non-mergeable migratetype never merges with another
    /// type; otherwise the flags must agree (migratetypes may differ, with the usual relabelling).</summary>
    public static bool CanMerge(Freetype a, Freetype b) =>
        a == b || (Migratetype.IsMergeable(a.Mt) && Migratetype.IsMergeable(b.Mt) && a.Flag == b.Flag);

    /// <summary>Does this freetype have free lists under <paramref name="layout"/>?</summary>
    public bool ExistsIn(FreetypeLayout layout) => layout switch
    {
        FreetypeLayout.None => Flag == 0,
        FreetypeLayout.Unmapped => Flag == 0 || Mt == Migratetype.Unmovable,
        _ => true,
    };

    public string Name(FreetypeLayout layout) => Flag == 0
        ? (layout == FreetypeLayout.Sensitivity ? Migratetype.Name(Mt) + "-nonsensitive" : Migratetype.Name(Mt))
        : Migratetype.Name(Mt) + (layout == FreetypeLayout.Unmapped ? "-unmapped" : "-sensitive");

    public override string ToString() => $"freetype {Index} ({Migratetype.Name(Mt)}, flag {Flag})";
}
