using System;
using System.Diagnostics;
using System.Threading;
using System.Threading.Tasks;

using GroupRelay.Testing;

namespace GroupRelay.Redis.Tests;

/// <summary>
/// A real redis-server of its own, started from the installed binary on a free loopback port with nothing persisted.
/// A test can stop it (kill) and start it again on the same port. Nothing needs to run before <c>dotnet test</c>.
/// </summary>
public sealed class RedisServer : IAsyncDisposable
{
    private Process? _process;

    private RedisServer(string binary, int port)
    {
        Binary = binary;
        Port = port;
    }

    public string Binary { get; }

    public int Port { get; }

    public string Endpoint => "127.0.0.1:" + Port;

    /// <summary>Starts a new server; fails (never skips) with how to install it when redis-server is missing.</summary>
    public static async Task<RedisServer> StartAsync()
    {
        string binary = LocalRedis.FindBinary() ?? throw new InvalidOperationException(
            "redis-server is not installed, and the Redis scale-out tests need a real one (they start their own on a free loopback port). " + LocalRedis.InstallHint);
        var server = new RedisServer(binary, LocalRedis.FreePort());
        await server.StartAgainAsync();
        return server;
    }

    /// <summary>Starts the server (again) on the same port, empty.</summary>
    public async Task StartAgainAsync()
    {
        var info = new ProcessStartInfo(Binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in LocalRedis.Arguments(Port))
        {
            info.ArgumentList.Add(argument);
        }

        _process = Process.Start(info) ?? throw new InvalidOperationException("redis-server did not start.");
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        DateTime deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            if (await LocalRedis.PingAsync(Port))
            {
                return;
            }

            if (_process.HasExited || DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException($"redis-server on port {Port} did not answer PING within 10 s (exited: {_process.HasExited}).");
            }

            await Task.Delay(20);
        }
    }

    /// <summary>Stops (SIGSTOP) or continues (SIGCONT) the server process: a paused Redis keeps its connections open and answers nothing.</summary>
    public async Task SignalAsync(bool pause)
    {
        Process process = _process ?? throw new InvalidOperationException("redis-server is not running.");
        using Process kill = Process.Start(new ProcessStartInfo("kill") { ArgumentList = { pause ? "-STOP" : "-CONT", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture) }, UseShellExecute = false })
            ?? throw new InvalidOperationException("kill did not start.");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await kill.WaitForExitAsync(timeout.Token);
    }

    /// <summary>Kills the server at once (no shutdown, no save): Redis loses everything.</summary>
    public async Task KillAsync()
    {
        Process? process = _process;
        _process = null;
        if (process is null)
        {
            return;
        }

        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await process.WaitForExitAsync(timeout.Token);
        process.Dispose();
    }

    public ValueTask DisposeAsync() => new(KillAsync());
}
