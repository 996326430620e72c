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

    public static readonly string[] All = { GroupRelay, SignalR, SignalRLite, Raw, RawCoalescing, Fleck, GroupRelayRedis };

    /// <summary>A mandatory system that fails makes the run fail; an optional one is skipped with one line.</summary>
    public static bool IsMandatory(string system) => system is not (Fleck or GroupRelayRedis);

    public static string Display(string system) => system switch
    {
        GroupRelay => "GroupRelay (ASP.NET Core)",
        SignalR => "SignalR",
        SignalRLite => "SignalR (lite client)",
        Raw => "raw ceiling",
        RawCoalescing => "raw ceiling, coalescing",
        Fleck => "GroupRelay (Fleck)",
        GroupRelayRedis => "GroupRelay, 2 nodes via Redis",
        _ => system,
    };
}
