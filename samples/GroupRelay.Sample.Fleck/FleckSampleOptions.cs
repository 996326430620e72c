using System;
using System.Collections.Generic;
using System.Globalization;

namespace GroupRelay.Sample;

/// <summary>The command line of the Fleck sample (the grammar is the samples' shared <see cref="SampleCommandLine"/>).</summary>
internal sealed class FleckSampleOptions
{
    public const int DefaultPort = 8181;

    public const int DefaultHttpPort = 8180;

    public const string Usage = """
        GroupRelay sample relay on Fleck: real-time group chat and presence over WebSockets, without ASP.NET Core.
        Listens on ws://127.0.0.1:PORT/relay; same database, seed format and tokens as GroupRelay.Sample.Console.

        Usage:
          dotnet run --project samples/GroupRelay.Sample.Fleck [-- OPTIONS]

        Options:
          --port PORT         Port to listen on, on 127.0.0.1 (default 8181; 0 picks a free port).
          --db PATH           SQLite database file (default grouprelay-sample.db in the working directory).
                              A new file is created and filled with the demo data. Share it with the console sample
                              (same --db) and each accepts the other's tokens.
          --seed FILE.json    Replace the users, groups and friends in the database with the file's data.
          --tokens-out FILE   Write {"alice":"<token>",...} with a token for every user in the database, so clients
                              can connect without a login (?access_token=<token> or Authorization: Bearer <token>).
                              The file holds secrets: it is created readable by its owner only.
          --http-port PORT    Also serve the JavaScript client over HTTP on 127.0.0.1:PORT, at /relay/client.js and
                              /relay/client.d.ts (default 8180, or a free port when --port is 0; 0 picks a free
                              port; off serves nothing).
          -h, --help          Show this help.

        Seed file format:
          {"users":["alice","bob"],"groups":{"team":["alice","bob"]},"friends":[["alice","bob"]]}

        Demo data: users alice, bob, carol, dave, erin; groups team, family, all.
        """;

    public int Port { get; private init; } = DefaultPort;

    public string DatabasePath { get; private init; } = SampleDatabase.DefaultPath;

    public string? SeedPath { get; private init; }

    public string? TokensOutPath { get; private init; }

    /// <summary>The port of the HTTP side that serves the JavaScript client, or null when it is off.</summary>
    public int? HttpPort { get; private init; }

    public bool ShowHelp { get; private init; }

    /// <summary>Parses <paramref name="args"/>; throws <see cref="ArgumentException"/> naming the bad argument.</summary>
    public static FleckSampleOptions Parse(IReadOnlyList<string> args)
    {
        SampleCommandLine line = SampleCommandLine.Parse(args, "--port", "--db", "--seed", "--tokens-out", "--http-port");
        int port = DefaultPort;
        if (line.Get("--port") is { } text
            && (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out port) || port > 65535))
        {
            throw new ArgumentException($"--port must be a number from 0 to 65535, not '{text}' (see --help)", nameof(args));
        }

        int? httpPort = port == 0 ? 0 : DefaultHttpPort;
        if (line.Get("--http-port") is { } httpText)
        {
            httpPort = httpText == "off" ? null
                : int.TryParse(httpText, NumberStyles.None, CultureInfo.InvariantCulture, out int parsed) && parsed <= 65535 ? parsed
                : throw new ArgumentException($"--http-port must be a number from 0 to 65535, or off, not '{httpText}' (see --help)", nameof(args));
        }

        return new FleckSampleOptions
        {
            ShowHelp = line.ShowHelp,
            Port = port,
            HttpPort = httpPort,
            DatabasePath = line.Get("--db") ?? SampleDatabase.DefaultPath,
            SeedPath = line.Get("--seed"),
            TokensOutPath = line.Get("--tokens-out"),
        };
    }
}
