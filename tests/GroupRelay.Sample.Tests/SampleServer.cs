using System;
using System.Collections.Concurrent;
using System.IO;
using System.Linq;
using System.Net.Http;
using System.Net.Http.Json;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.AspNetCore.Builder;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace GroupRelay.Sample.Tests;

/// <summary>
/// The real sample host (SampleHost.BuildAsync, as Program runs it) started in-process on 127.0.0.1 with a free port
/// and its own database file; every log line it writes is captured.
/// </summary>
public sealed class SampleServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private bool _stopped;
    private bool _ownsDatabase;

    private SampleServer(WebApplication app, Uri baseUri, string databasePath, LogCapture logs)
    {
        _app = app;
        BaseUri = baseUri;
        DatabasePath = databasePath;
        Logs = logs;
        Http = new HttpClient { BaseAddress = baseUri, Timeout = TimeSpan.FromSeconds(10) };
    }

    public Uri BaseUri { get; }

    public Uri RelayUri => new($"ws://{BaseUri.Authority}/relay");

    public string DatabasePath { get; }

    public HttpClient Http { get; }

    public LogCapture Logs { get; }

    public IServiceProvider Services => _app.Services;

    /// <summary>Starts a host on <paramref name="databasePath"/> (a new temp file when null) with extra arguments.</summary>
    public static async Task<SampleServer> StartAsync(string? databasePath = null, params string[] extraArgs)
    {
        bool ownsDatabase = databasePath is null;
        databasePath ??= TempDatabase.NewPath();
        var logs = new LogCapture();
        string[] args = ["--urls", "http://127.0.0.1:0", "--db", databasePath, .. extraArgs];
        WebApplication app = await SampleHost.BuildAsync(args, builder =>
        {
            builder.Logging.ClearProviders();
            builder.Logging.SetMinimumLevel(LogLevel.Trace);
            builder.Logging.AddProvider(logs);
        });
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        Uri baseUri = await SampleHost.StartAsync(app, timeout.Token);
        return new SampleServer(app, baseUri, databasePath, logs) { _ownsDatabase = ownsDatabase };
    }

    /// <summary>Logs in through the demo login and returns the token.</summary>
    public async Task<string> LoginAsync(string user)
    {
        using HttpResponseMessage response = await Http.PostAsJsonAsync("/api/login", new { user });
        response.EnsureSuccessStatusCode();
        using JsonDocument body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return body.RootElement.GetProperty("token").GetString()!;
    }

    /// <summary>Stops the host (clients get close code 1001); <see cref="DisposeAsync"/> still cleans up.</summary>
    public async Task StopAsync()
    {
        if (_stopped)
        {
            return;
        }

        _stopped = true;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await _app.StopAsync(timeout.Token);
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await StopAsync();
        await _app.DisposeAsync();
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = DatabasePath }.ToString());
        SqliteConnection.ClearPool(connection);
        if (_ownsDatabase)
        {
            try
            {
                Directory.Delete(Path.GetDirectoryName(DatabasePath)!, recursive: true);
            }
            catch (IOException)
            {
                // Best effort: a leftover temp folder is harmless.
            }
        }
    }

    /// <summary>Captures every log line, formatted, with its category.</summary>
    public sealed class LogCapture : ILoggerProvider
    {
        public ConcurrentQueue<string> Lines { get; } = new();

        public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

        public void Dispose()
        {
        }

        public bool Contains(string text) => Lines.Any(line => line.Contains(text, StringComparison.Ordinal));

        private sealed class Logger(LogCapture owner, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                // The structured values too, not only the message: a token must not hide in a property either.
                string values = state is System.Collections.Generic.IEnumerable<System.Collections.Generic.KeyValuePair<string, object?>> pairs
                    ? string.Join(" ", pairs.Select(p => $"{p.Key}={p.Value}"))
                    : string.Empty;
                owner.Lines.Enqueue($"{logLevel} {category}: {formatter(state, exception)} {values} {exception}");
            }
        }
    }
}

/// <summary>Temp database files, each in its own folder under the system temp directory.</summary>
public static class TempDatabase
{
    public static string NewPath()
    {
        string folder = Path.Combine(Path.GetTempPath(), "grouprelay-sample-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        return Path.Combine(folder, "sample.db");
    }

    public static string WriteSeed(string json)
    {
        string path = Path.Combine(Path.GetDirectoryName(NewPath())!, "seed.json");
        File.WriteAllText(path, json);
        return path;
    }
}
