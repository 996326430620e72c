using System;
using System.Collections.Generic;
using System.IO;
using System.Text.Json;
using System.Threading.Tasks;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace GroupRelay.Sample.Tests;

/// <summary>
/// The real Fleck sample (FleckSampleHost.StartAsync, as Program runs it) started in-process on 127.0.0.1 with a free
/// port, its own (or a given) database and a tokens file; every log line it writes is captured.
/// </summary>
public sealed class FleckSampleServer : IAsyncDisposable
{
    private readonly FleckSampleHost _host;
    private readonly ILoggerFactory _loggers;
    private readonly bool _ownsDatabase;
    private bool _disposed;

    private FleckSampleServer(FleckSampleHost host, ILoggerFactory loggers, SampleServer.LogCapture logs, string databasePath, string tokensPath, bool ownsDatabase)
    {
        _host = host;
        _loggers = loggers;
        Logs = logs;
        DatabasePath = databasePath;
        TokensPath = tokensPath;
        _ownsDatabase = ownsDatabase;
        using JsonDocument document = JsonDocument.Parse(File.ReadAllText(tokensPath));
        var tokens = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (JsonProperty user in document.RootElement.EnumerateObject())
        {
            tokens[user.Name] = user.Value.GetString()!;
        }

        Tokens = tokens;
    }

    public int Port => _host.Port;

    public Uri RelayUri => _host.RelayUri;

    public string DatabasePath { get; }

    public string TokensPath { get; }

    /// <summary>The tokens file (--tokens-out) as read right after the start.</summary>
    public IReadOnlyDictionary<string, string> Tokens { get; }

    public SampleServer.LogCapture Logs { get; }

    internal FleckSampleHost Host => _host;

    /// <summary>The relay URL with a token in the access_token query parameter.</summary>
    public Uri RelayUriWithToken(string token) => new(RelayUri + "?access_token=" + Uri.EscapeDataString(token));

    /// <summary>Starts the Fleck sample on <paramref name="databasePath"/> (a new temp file when null) with extra arguments.</summary>
    public static async Task<FleckSampleServer> StartAsync(string? databasePath = null, params string[] extraArgs)
    {
        bool ownsDatabase = databasePath is null;
        databasePath ??= TempDatabase.NewPath();
        string tokensPath = Path.Combine(Path.GetDirectoryName(databasePath)!, $"tokens-{Guid.NewGuid():N}.json");
        var logs = new SampleServer.LogCapture();
        ILoggerFactory loggers = LoggerFactory.Create(logging => logging.SetMinimumLevel(LogLevel.Trace).AddProvider(logs));
        string[] args = ["--port", "0", "--db", databasePath, "--tokens-out", tokensPath, .. extraArgs];
        FleckSampleHost host = await FleckSampleHost.StartAsync(args, loggers);
        return new FleckSampleServer(host, loggers, logs, databasePath, tokensPath, ownsDatabase);
    }

    /// <summary>Stops the relay: every client gets 1001.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        await _host.DisposeAsync();
        _loggers.Dispose();
        File.Delete(TokensPath);
        if (_ownsDatabase)
        {
            using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = DatabasePath }.ToString());
            SqliteConnection.ClearPool(connection);
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
}
