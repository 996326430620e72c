using System;
using System.Collections.Generic;
using System.IO;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using Fleck;
using GroupRelay.Transports.Fleck;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using FleckLogLevel = Fleck.LogLevel;
using LogLevel = Microsoft.Extensions.Logging.LogLevel;

namespace GroupRelay.Sample;

/// <summary>
/// The Fleck sample: the relay on a Fleck server at <c>ws://127.0.0.1:PORT/relay</c>, over the samples' SQLite
/// database, authenticating connections with the samples' bearer tokens (<see cref="SampleTokenService"/>).
/// <see cref="StartAsync(FleckSampleOptions, ILoggerFactory)"/> is what both <see cref="RunAsync"/> and the tests start.
/// </summary>
internal sealed class FleckSampleHost : IAsyncDisposable
{
    /// <summary>The path clients connect to. Fleck serves any path; the samples document this one.</summary>
    public const string RelayPath = "/relay";

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    private readonly ServiceProvider _services;

    private FleckSampleHost(FleckRelayServer server, SampleDatabase database, SampleTokenService tokens, ServiceProvider services)
    {
        Server = server;
        Database = database;
        Tokens = tokens;
        _services = services;
    }

    public FleckRelayServer Server { get; }

    /// <summary>The HTTP side that serves the JavaScript client, or null when <c>--http-port off</c>.</summary>
    public ClientScriptServer? ClientScript { get; private set; }

    public SampleDatabase Database { get; }

    public SampleTokenService Tokens { get; }

    /// <summary>The port the relay listens on (the real one when <c>--port 0</c> was given).</summary>
    public int Port => Server.Port;

    public Uri RelayUri => new($"ws://127.0.0.1:{Port}{RelayPath}");

    /// <summary>Runs the relay until Ctrl+C (or SIGTERM); returns the process exit code.</summary>
    public static async Task<int> RunAsync(string[] args)
    {
        FleckSampleOptions options;
        try
        {
            options = FleckSampleOptions.Parse(args);
        }
        catch (ArgumentException ex)
        {
            await Console.Error.WriteLineAsync($"error: {SampleCommandLine.ErrorMessage(ex)}");
            return 2;
        }

        if (options.ShowHelp)
        {
            Console.WriteLine(FleckSampleOptions.Usage);
            return 0;
        }

        using ILoggerFactory loggers = LoggerFactory.Create(logging => logging
            .AddSimpleConsole(console =>
            {
                console.SingleLine = true;
                console.TimestampFormat = "HH:mm:ss ";
            })
            .SetMinimumLevel(LogLevel.Information)

            // "No XML encryptor configured": known and documented on SqliteXmlRepository; SampleStartupLog says it once.
            .AddFilter("Microsoft.AspNetCore.DataProtection", LogLevel.Error));
        ILogger logger = loggers.CreateLogger("GroupRelay.Sample.Fleck");
        RouteFleckLog(loggers.CreateLogger("Fleck"));

        var stop = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnSignal(PosixSignalContext context)
        {
            context.Cancel = true;
            stop.TrySetResult();
        }

        using PosixSignalRegistration sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using PosixSignalRegistration sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);

        FleckSampleHost host;
        try
        {
            host = await StartAsync(options, loggers);
        }
        catch (SampleSeedException ex)
        {
            await Console.Error.WriteLineAsync($"error: {ex.Message}");
            return 1;
        }
        catch (SocketException ex)
        {
            string http = options.HttpPort?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "off";
            await Console.Error.WriteLineAsync($"error: cannot listen on 127.0.0.1 (--port {options.Port}, --http-port {http}): {ex.Message}");
            return 1;
        }

        await using (host)
        {
            string url = host.RelayUri.ToString();
            FleckSampleLog.Ready(logger, url, host.Database.Path);
            await stop.Task;
            FleckSampleLog.Stopping(logger);
        }

        return 0;
    }

    /// <summary>Starts the relay from command-line arguments, for tests (see <see cref="FleckSampleOptions.Usage"/>).</summary>
    /// <exception cref="ArgumentException">An argument is unknown or lacks its value.</exception>
    public static Task<FleckSampleHost> StartAsync(string[] args, ILoggerFactory loggerFactory)
        => StartAsync(FleckSampleOptions.Parse(args), loggerFactory);

    /// <summary>
    /// Opens (and seeds) the database, loads the key ring, starts the relay on 127.0.0.1 and writes the tokens file
    /// when asked to.
    /// </summary>
    /// <exception cref="SampleSeedException">The seed file is invalid.</exception>
    /// <exception cref="SocketException">The port cannot be bound.</exception>
    public static async Task<FleckSampleHost> StartAsync(FleckSampleOptions options, ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        ILogger logger = loggerFactory.CreateLogger("GroupRelay.Sample.Fleck");

        var database = new SampleDatabase(options.DatabasePath);
        SampleSeed? seed = options.SeedPath is null ? null : SampleSeed.Load(options.SeedPath);
        bool written = await database.InitializeAsync(seed).ConfigureAwait(false);
        SampleStartupLog.DatabaseOpened(logger, database, options.SeedPath, seed, written);

        // The same Data Protection (application name, key ring in the database) and token format as the console
        // sample, in a small container of its own: there is no ASP.NET Core host here.
        var services = new ServiceCollection();
        services.AddSingleton(loggerFactory);
        services.AddSampleDataProtection(database);
        services.AddSampleTokens();
        ServiceProvider provider = services.BuildServiceProvider();
        FleckRelayServer? server = null;
        try
        {
            // Load (or create) the key ring now, not on the first connection: a broken database fails the start.
            _ = provider.GetRequiredService<IDataProtectionProvider>().CreateProtector("GroupRelay.Sample.Fleck.Startup").Protect([1]);
            SampleTokenService tokens = provider.GetRequiredService<SampleTokenService>();

            server = FleckRelayServer.Create(
                $"ws://127.0.0.1:{options.Port}",
                new SqliteMembershipSource(database),
                fleck => fleck.Authenticate = info =>
                {
                    // The token itself is never logged.
                    string? user = tokens.ValidateAndGetUserId(FleckRelayAuthentication.GetAccessToken(info));
                    if (user is null)
                    {
                        FleckSampleLog.Refused(logger);
                    }

                    return user;
                },
                configureRelay: null,
                loggerFactory: loggerFactory);
            server.Start();

            var host = new FleckSampleHost(server, database, tokens, provider);
            if (options.HttpPort is { } httpPort)
            {
                host.ClientScript = ClientScriptServer.Start(httpPort, logger);
                FleckSampleLog.ClientScriptServed(logger, host.ClientScript.ScriptUri);
            }

            if (options.TokensOutPath is { } tokensOut)
            {
                IReadOnlyList<string> users = await database.GetUsersAsync().ConfigureAwait(false);
                await WriteTokensAsync(tokensOut, tokens.IssueAll(users)).ConfigureAwait(false);
                string file = Path.GetFullPath(tokensOut);
                FleckSampleLog.TokensWritten(logger, users.Count, file, tokens.Lifetime);
            }

            return host;
        }
        catch
        {
            if (server is not null)
            {
                await server.DisposeAsync().ConfigureAwait(false);
            }

            await provider.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Stops the relay (every client gets 1001 and is waited for, within the relay's close timeout).</summary>
    public async ValueTask DisposeAsync()
    {
        if (ClientScript is not null)
        {
            await ClientScript.DisposeAsync().ConfigureAwait(false);
        }

        await Server.DisposeAsync().ConfigureAwait(false);
        await _services.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Writes <c>{"alice":"&lt;token&gt;",...}</c>; a new file is readable and writable by its owner only.</summary>
    private static async Task WriteTokensAsync(string path, IReadOnlyDictionary<string, string> tokens)
    {
        string full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var fileOptions = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
        {
            fileOptions.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        FileStream file = new(full, fileOptions);
        await using (file.ConfigureAwait(false))
        {
            await JsonSerializer.SerializeAsync(file, tokens, Indented).ConfigureAwait(false);
        }
    }

    /// <summary>Fleck's static log to the host's logger, warnings and errors only (Fleck's debug lines are noise).</summary>
    private static void RouteFleckLog(ILogger logger)
    {
        FleckLog.Level = FleckLogLevel.Warn;
        FleckLog.LogAction = (level, message, exception) =>
        {
            if (level == FleckLogLevel.Warn)
            {
                FleckSampleLog.FleckWarning(logger, message, exception);
            }
            else if (level == FleckLogLevel.Error)
            {
                FleckSampleLog.FleckError(logger, message, exception);
            }
        };
    }
}
