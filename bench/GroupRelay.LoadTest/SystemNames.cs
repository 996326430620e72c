namespace GroupRelay.LoadTest;

/// <summary>The systems under test, as named on the command line, in the tables and in the JSON.</summary>
internal static class SystemNames
{
    public const string GroupRelay = "grouprelay";
    public const string SignalR = "signalr";
    public const string SignalRLite = "signalr-lite";
    public const string Raw = "raw";
    public const string RawCoalescing = "raw-coalescing";
    public const string Fleck = "grouprelay-fleck";
    public const string GroupRelayRedis = "grouprelay-redis";

    /// <summary><see cref="GroupRelay"/> with its server process started from the <c>--baseline-server</c> build.</summary>
    public const string GroupRelayBaseline = "grouprelay-baseline";

    /// <summary><see cref="GroupRelayRedis"/> with both nodes started from the <c>--baseline-server</c> build.</summary>
    public const string GroupRelayRedisBaseline = "grouprelay-redis-baseline";

    /// <summary>Every name, in the default run order: a baseline system right after the system it is the old build of.</summary>
    public static readonly string[] All = { GroupRelay, GroupRelayBaseline, SignalR, SignalRLite, Raw, RawCoalescing, Fleck, GroupRelayRedis, GroupRelayRedisBaseline };

    /// <summary>True for the systems that need <c>--baseline-server</c>; they are in the default list only with it.</summary>
    public static bool IsBaseline(string system) => system is GroupRelayBaseline or GroupRelayRedisBaseline;

    /// <summary>
    /// What a baseline system is the old build of (itself for every other system). The baseline server process is told
    /// this name, because the other build knows no baseline names, and the client (always the current build) connects
    /// as it does to this system.
    /// </summary>
    public static string Current(string system) => system switch
    {
        GroupRelayBaseline => GroupRelay,
        GroupRelayRedisBaseline => GroupRelayRedis,
        _ => system,
    };

    /// <summary>The baseline system of <paramref name="system"/>, or null when it has none.</summary>
    public static string? BaselineOf(string system) => system switch
    {
        GroupRelay => GroupRelayBaseline,
        GroupRelayRedis => GroupRelayRedisBaseline,
        _ => null,
    };

    /// <summary>A mandatory system that fails makes the run fail; an optional one is skipped with one line.</summary>
    public static bool IsMandatory(string system) => Current(system) is not (Fleck or GroupRelayRedis);

    public static string Display(string system) => system switch
    {
        GroupRelay => "GroupRelay (ASP.NET Core)",
        SignalR => "SignalR",
        SignalRLite => "SignalR (lite client)",
        Raw => "raw ceiling",
        RawCoalescing => "raw ceiling, coalescing",
        Fleck => "GroupRelay (Fleck)",
        GroupRelayRedis => "GroupRelay, 2 nodes via Redis",
        GroupRelayBaseline or GroupRelayRedisBaseline => Display(Current(system)) + ", baseline build",
        _ => system,
    };
}
