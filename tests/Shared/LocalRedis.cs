using System;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace GroupRelay.Testing;

// Linked into every project that starts a redis-server of its own (the Redis and sample tests, the load harness).
/// <summary>
/// How the test fixtures and the load harness run a real redis-server: the installed binary, on a free loopback port,
/// nothing persisted, and "up" once it answers PING.
/// </summary>
internal static class LocalRedis
{
    /// <summary>What <c>apt-get</c> installs; said in every failure caused by a missing binary.</summary>
    public const string InstallHint = "Install it with 'apt-get install -y redis-server' (./test.sh installs it); the system service need not run.";

    /// <summary>The redis-server binary on PATH, /usr/bin or /usr/local/bin; null when there is none.</summary>
    public static string? FindBinary()
        => (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Append("/usr/bin").Append("/usr/local/bin")
            .Select(directory => Path.Combine(directory, "redis-server"))
            .FirstOrDefault(File.Exists);

    /// <summary>The server's arguments: loopback only, this port, no snapshots, no append-only file.</summary>
    public static string[] Arguments(int port) => new[]
    {
        "--bind", "127.0.0.1", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture),
        "--save", string.Empty, "--appendonly", "no", "--protected-mode", "yes",
    };

    /// <summary>A loopback port nothing listens on right now.</summary>
    public static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    /// <summary>Whether a Redis on <paramref name="port"/> answers PING within a second.</summary>
    public static async Task<bool> PingAsync(int port)
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
