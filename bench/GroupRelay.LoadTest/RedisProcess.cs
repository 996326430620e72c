using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace GroupRelay.LoadTest;

/// <summary>
/// The redis-server of the grouprelay-redis system: the installed binary on a free loopback port, nothing persisted
/// (<c>--save '' --appendonly no</c>), killed at the end of the run (as tests/GroupRelay.Redis.Tests/RedisServer.cs).
/// </summary>
internal static class RedisProcess
{
    /// <summary>The redis-server binary on PATH, /usr/bin or /usr/local/bin; null when there is none.</summary>
    public static string? FindBinary()
        => (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Append("/usr/bin").Append("/usr/local/bin")
            .Select(directory => Path.Combine(directory, "redis-server"))
            .FirstOrDefault(File.Exists);

    public static List<string> Command(string binary, int port) => new()
    {
        binary, "--bind", "127.0.0.1", "--port", port.ToString(CultureInfo.InvariantCulture),
        "--save", string.Empty, "--appendonly", "no", "--protected-mode", "yes",
    };

    public static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    /// <summary>True once the server answers PING; false when it exits or <paramref name="timeout"/> passes.</summary>
    public static async Task<bool> WaitForPingAsync(int port, ChildProcess process, TimeSpan timeout)
    {
        long deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        for (int attempt = 0; attempt < 1000 && Environment.TickCount64 < deadline && !process.HasExited; attempt++)
        {
            if (await PingAsync(port))
            {
                return true;
            }

            await Task.Delay(20);
        }

        return false;
    }

    private static async Task<bool> PingAsync(int port)
    {
        try
        {
            using var client = new TcpClient();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(1));
            await client.ConnectAsync(IPAddress.Loopback, port, timeout.Token);
            NetworkStream stream = client.GetStream();
            await stream.WriteAsync(Encoding.ASCII.GetBytes("PING\r\n"), timeout.Token);
            byte[] buffer = new byte[16];
            int read = await stream.ReadAsync(buffer, timeout.Token);
            return Encoding.ASCII.GetString(buffer, 0, read).StartsWith("+PONG", StringComparison.Ordinal);
        }
        catch (Exception ex) when (ex is SocketException or IOException or OperationCanceledException)
        {
            return false;
        }
    }
}
