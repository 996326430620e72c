using System.Collections.Generic;
using System.Linq;

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

    /// <summary>
    /// <see cref="GroupRelay"/> with message retention switched off (<c>HistoryMessagesPerGroup = 0</c>, passed to the
    /// server process as <c>--history-messages 0</c>): what retention for <c>history</c> costs. Only when named.
    /// </summary>
    public const string GroupRelayNoRetention = "grouprelay-noretention";

    /// <summary>
    /// Every name, in the default run order: a system another is compared with right after that one. The default
    /// run leaves out <see cref="IsExplicitOnly"/> systems.
    /// </summary>
    public static readonly string[] All = { GroupRelay, GroupRelayBaseline, GroupRelayNoRetention, SignalR, SignalRLite, Raw, RawCoalescing, Fleck, GroupRelayRedis, GroupRelayRedisBaseline };

    /// <summary>
    /// The pairs whose fan-out runs alternate size by size when both are run, with the ratio subject / reference
    /// reported per group size: the current build against the <c>--baseline-server</c> build, and retention on
    /// against off.
    /// </summary>
    public static readonly Comparison[] Comparisons =
    {
        new(GroupRelay, GroupRelayBaseline, "Current build / baseline build", "current", "baseline", "1.00x = no change"),
        new(GroupRelayRedis, GroupRelayRedisBaseline, "Current build / baseline build", "current", "baseline", "1.00x = no change"),
        new(GroupRelay, GroupRelayNoRetention, "Retention on / retention off", "retention on", "retention off", "goal >= 0.95x"),
    };

    /// <summary>True for the systems that need <c>--baseline-server</c>; they are in the default list only with it.</summary>
    public static bool IsBaseline(string system) => system is GroupRelayBaseline or GroupRelayRedisBaseline;

    /// <summary>True for the systems that run only when <c>--systems</c> names them (baselines: or with <c>--baseline-server</c>).</summary>
    public static bool IsExplicitOnly(string system) => IsBaseline(system) || system == GroupRelayNoRetention;

    /// <summary>
    /// The system whose server and client <paramref name="system"/> runs (itself for most systems): a baseline system
    /// runs as the system it is the old build of, and its server process is told this name, because the other build
    /// knows no baseline names; <see cref="GroupRelayNoRetention"/> runs as <see cref="GroupRelay"/>, its server with
    /// <see cref="ServerArguments"/>. The client (always the current build) connects as it does to this system.
    /// </summary>
    public static string RunsAs(string system) => system switch
    {
        GroupRelayBaseline or GroupRelayNoRetention => GroupRelay,
        GroupRelayRedisBaseline => GroupRelayRedis,
        _ => system,
    };

    /// <summary>Arguments the server process of <paramref name="system"/> gets beyond <c>server --system NAME --sizes LIST</c>.</summary>
    public static IEnumerable<string> ServerArguments(string system) => system switch
    {
        GroupRelayNoRetention => new[] { "--history-messages", "0" },
        _ => System.Array.Empty<string>(),
    };

    /// <summary>The systems whose fan-out alternates with <paramref name="system"/>'s (it is their subject), in the order of <see cref="Comparisons"/>.</summary>
    public static IEnumerable<string> ComparedWith(string system) => Comparisons.Where(c => c.Subject == system).Select(c => c.Reference);

    /// <summary>True when <paramref name="system"/> is the reference of a comparison whose subject is also in <paramref name="systems"/>.</summary>
    public static bool IsComparedWithin(string system, IReadOnlyCollection<string> systems) => Comparisons.Any(c => c.Reference == system && systems.Contains(c.Subject));

    /// <summary>The comparison of <paramref name="subject"/> with <paramref name="reference"/>.</summary>
    public static Comparison ComparisonOf(string subject, string reference) => Comparisons.First(c => c.Subject == subject && c.Reference == reference);

    /// <summary>A mandatory system that fails makes the run fail; an optional one is skipped with one line.</summary>
    public static bool IsMandatory(string system) => RunsAs(system) is not (Fleck or GroupRelayRedis);

    public static string Display(string system) => system switch
    {
        GroupRelay => "GroupRelay (ASP.NET Core)",
        SignalR => "SignalR",
        SignalRLite => "SignalR (lite client)",
        Raw => "raw ceiling",
        RawCoalescing => "raw ceiling, coalescing",
        Fleck => "GroupRelay (Fleck)",
        GroupRelayRedis => "GroupRelay, 2 nodes via Redis",
        GroupRelayBaseline or GroupRelayRedisBaseline => Display(RunsAs(system)) + ", baseline build",
        GroupRelayNoRetention => Display(GroupRelay) + ", retention off",
        _ => system,
    };

    /// <summary>
    /// Two systems measured interleaved: <see cref="Subject"/> / <see cref="Reference"/> deliveries/s. <see cref="Title"/>
    /// heads the report's table (one per title), the labels name its columns, <see cref="Reading"/> says how to read it.
    /// </summary>
    internal sealed record Comparison(string Subject, string Reference, string Title, string SubjectLabel, string ReferenceLabel, string Reading);
}
