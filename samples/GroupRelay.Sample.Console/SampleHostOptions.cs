using System;
using System.Collections.Generic;
using System.Globalization;

namespace GroupRelay.Sample;

/// <summary>The command line of the sample host.</summary>
internal sealed class SampleHostOptions
{
    public const string DefaultUrls = "http://127.0.0.1:5080";
    public const string DefaultDatabase = SampleDatabase.DefaultPath;

    public const string Usage = """
        GroupRelay sample chat: real-time group chat and presence over WebSockets.

        Usage:
          dotnet run --project samples/GroupRelay.Sample.Console [-- OPTIONS]

        Options:
          --urls URLS       Addresses to listen on, separated by ';' (default http://127.0.0.1:5080).
          --db PATH         SQLite database file (default grouprelay-sample.db in the working directory).
                            A new file is created and filled with the demo data.
          --seed FILE.json  Replace the users, groups and friends in the database with the file's data.
          --redis HOST:PORT Scale out through Redis: hosts started with the same --db and --redis form one
                            cluster (a user on one host chats with a user on another; tokens work on all).
          --history-messages N
                            Messages the relay retains per group for history, which a reloaded or
                            reconnected page replays (default 100; 0 keeps none).
          -h, --help        Show this help.

        Seed file format:
          {"users":["alice","bob"],"groups":{"team":["alice","bob"]},"friends":[["alice","bob"]]}

        Demo data: users alice, bob, carol, dave, erin; groups team, family, all.
        Demo login: there are no passwords. Pick a user on the page, or POST /api/login {"user":"alice"}.
        """;

    public string Urls { get; private init; } = DefaultUrls;

    public string DatabasePath { get; private init; } = DefaultDatabase;

    public string? SeedPath { get; private init; }

    /// <summary>The Redis endpoint to scale out through, or null for a single host.</summary>
    public string? Redis { get; private init; }

    /// <summary>The relay's <c>HistoryMessagesPerGroup</c>, or null for its default (100).</summary>
    public int? HistoryMessages { get; private init; }

    public bool ShowHelp { get; private init; }

    /// <summary>Parses <paramref name="args"/>; throws <see cref="ArgumentException"/> naming the bad argument.</summary>
    public static SampleHostOptions Parse(IReadOnlyList<string> args)
    {
        SampleCommandLine line = SampleCommandLine.Parse(args, "--urls", "--db", "--seed", "--redis", "--history-messages");
        return new SampleHostOptions
        {
            ShowHelp = line.ShowHelp,
            Urls = line.Get("--urls") ?? DefaultUrls,
            DatabasePath = line.Get("--db") ?? DefaultDatabase,
            SeedPath = line.Get("--seed"),
            Redis = line.Get("--redis"),
            HistoryMessages = line.Get("--history-messages") is not { } history ? null
                : int.TryParse(history, NumberStyles.None, CultureInfo.InvariantCulture, out int count) && count <= 1_000_000 ? count
                : throw new ArgumentException($"--history-messages needs a whole number from 0 to 1000000, not '{history}'", nameof(args)),
        };
    }
}
