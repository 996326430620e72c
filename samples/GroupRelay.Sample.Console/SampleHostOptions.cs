using System;
using System.Collections.Generic;

namespace GroupRelay.Sample;

/// <summary>The command line of the sample host.</summary>
internal sealed class SampleHostOptions
{
    public const string DefaultUrls = "http://127.0.0.1:5080";
    public const string DefaultDatabase = "grouprelay-sample.db";

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
          -h, --help        Show this help.

        Seed file format:
          {"users":["alice","bob"],"groups":{"team":["alice","bob"]},"friends":[["alice","bob"]]}

        Demo data: users alice, bob, carol, dave, erin; groups team, family, all.
        Demo login: there are no passwords. Pick a user on the page, or POST /api/login {"user":"alice"}.
        """;

    public string Urls { get; private set; } = DefaultUrls;

    public string DatabasePath { get; private set; } = DefaultDatabase;

    public string? SeedPath { get; private set; }

    /// <summary>The Redis endpoint to scale out through, or null for a single host.</summary>
    public string? Redis { get; private set; }

    public bool ShowHelp { get; private set; }

    /// <summary>Parses <paramref name="args"/>; throws <see cref="ArgumentException"/> naming the bad argument.</summary>
    public static SampleHostOptions Parse(IReadOnlyList<string> args)
    {
        ArgumentNullException.ThrowIfNull(args);
        var options = new SampleHostOptions();
        for (int i = 0; i < args.Count; i++)
        {
            string arg = args[i];
            string name = arg;
            string? value = null;
            int equals = arg.IndexOf('=', StringComparison.Ordinal);
            if (arg.StartsWith("--", StringComparison.Ordinal) && equals > 0)
            {
                name = arg[..equals];
                value = arg[(equals + 1)..];
            }

            switch (name)
            {
                case "-h" or "--help" or "-?":
                    options.ShowHelp = true;
                    break;
                case "--urls":
                    options.Urls = value ?? Next(args, ref i, name);
                    break;
                case "--db":
                    options.DatabasePath = value ?? Next(args, ref i, name);
                    break;
                case "--seed":
                    options.SeedPath = value ?? Next(args, ref i, name);
                    break;
                case "--redis":
                    options.Redis = value ?? Next(args, ref i, name);
                    break;
                default:
                    throw new ArgumentException($"unknown argument '{arg}' (see --help)", nameof(args));
            }
        }

        return options;
    }

    private static string Next(IReadOnlyList<string> args, ref int i, string name)
    {
        if (i + 1 >= args.Count || string.IsNullOrWhiteSpace(args[i + 1]) || args[i + 1].StartsWith("--", StringComparison.Ordinal))
        {
            throw new ArgumentException($"{name} needs a value (see --help)", nameof(args));
        }

        i++;
        return args[i];
    }
}
