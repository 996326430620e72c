using System;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;

namespace GroupRelay.Client.Tests.Infrastructure;

/// <summary>
/// A loopback TCP proxy between clients and one relay port. It forwards bytes both ways and, on demand, breaks things
/// the way networks do: cuts every connection now (<see cref="CutAll"/>), refuses new ones (<see cref="Refusing"/>),
/// swallows what the server sends (<see cref="HoldDownstream"/>: the client writes, the server answers, nothing comes
/// back), or, with a seeded <see cref="Random"/>, cuts each connection after a random number of bytes, mid-frame too
/// (<see cref="CutAfterBytes"/>). Cuts are resets (RST), not orderly closes.
/// </summary>
public sealed class ChaosProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly Func<int> _targetPort;
    private readonly ConcurrentDictionary<int, Link> _links = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Random _random;
    private readonly object _randomLock = new();
    private readonly Task _accepting;
    private int _nextLink;
    private int _accepted;
    private int _cuts;

    /// <param name="targetPort">The relay's port, read at each connect (it may change when a host restarts).</param>
    /// <param name="seed">The seed of the random cuts.</param>
    public ChaosProxy(Func<int> targetPort, int seed = 0)
    {
        _targetPort = targetPort;
        _random = new Random(seed);
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _accepting = Task.Run(AcceptLoopAsync);
    }

    public int Port { get; }

    /// <summary>The relay URL through this proxy: the same path on the proxy's port.</summary>
    public Uri UriFor(Uri relayUri) => new UriBuilder(relayUri) { Port = Port }.Uri;

    /// <summary>New connections are reset at once while true.</summary>
    public bool Refusing { get; set; }

    /// <summary>While true, bytes from the server are dropped (the client hears nothing).</summary>
    public bool HoldDownstream { get; set; }

    /// <summary>
    /// When set, each new connection is cut after a random number of bytes (both directions counted) in this range; a
    /// chunk that crosses the budget is forwarded only in part, so the cut falls inside a WebSocket frame.
    /// </summary>
    public (int Min, int Max)? CutAfterBytes { get; set; }

    /// <summary>Connections accepted so far.</summary>
    public int Accepted => Volatile.Read(ref _accepted);

    /// <summary>Connections cut so far (by <see cref="CutAll"/> or a byte budget).</summary>
    public int Cuts => Volatile.Read(ref _cuts);

    /// <summary>Resets every open connection now.</summary>
    public void CutAll()
    {
        foreach (Link link in _links.Values)
        {
            link.Cut();
        }
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException)
            {
                continue;
            }

            Interlocked.Increment(ref _accepted);
            if (Refusing)
            {
                Reset(client);
                continue;
            }

            _ = Task.Run(() => LinkAsync(client));
        }
    }

    private async Task LinkAsync(Socket client)
    {
        var server = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        client.NoDelay = true;
        try
        {
            using var connectTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await server.ConnectAsync(new IPEndPoint(IPAddress.Loopback, _targetPort()), connectTimeout.Token);
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException)
        {
            Reset(client);
            server.Dispose();
            return;
        }

        long budget = long.MaxValue;
        if (CutAfterBytes is (int min, int max))
        {
            lock (_randomLock)
            {
                budget = _random.Next(min, max + 1);
            }
        }

        int id = Interlocked.Increment(ref _nextLink);
        var link = new Link(this, client, server, budget);
        _links[id] = link;
        try
        {
            await Task.WhenAll(link.PumpAsync(client, server, downstream: false), link.PumpAsync(server, client, downstream: true));
        }
        finally
        {
            _links.TryRemove(id, out _);
            link.Cut(counted: false);
        }
    }

    private static void Reset(Socket socket)
    {
        try
        {
            socket.LingerState = new LingerOption(true, 0);
            socket.Close();
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        CutAll();
        try
        {
            await _accepting;
        }
        catch (Exception)
        {
        }

        _stop.Dispose();
    }

    private sealed class Link
    {
        private readonly ChaosProxy _proxy;
        private readonly Socket _client;
        private readonly Socket _server;
        private long _budget;
        private int _cut;

        public Link(ChaosProxy proxy, Socket client, Socket server, long budget)
        {
            _proxy = proxy;
            _client = client;
            _server = server;
            _budget = budget;
        }

        public void Cut(bool counted = true)
        {
            if (Interlocked.Exchange(ref _cut, 1) != 0)
            {
                return;
            }

            if (counted)
            {
                Interlocked.Increment(ref _proxy._cuts);
            }

            Reset(_client);
            Reset(_server);
        }

        public async Task PumpAsync(Socket from, Socket to, bool downstream)
        {
            byte[] buffer = new byte[16 * 1024];
            try
            {
                while (true)
                {
                    int read = await from.ReceiveAsync(buffer, SocketFlags.None);
                    if (read == 0)
                    {
                        // An orderly close: pass it on.
                        to.Shutdown(SocketShutdown.Send);
                        return;
                    }

                    if (downstream && _proxy.HoldDownstream)
                    {
                        continue;
                    }

                    long left = Interlocked.Add(ref _budget, -read);
                    if (left < 0)
                    {
                        // Forward only the part within the budget, then cut: the peer sees half a frame and a reset.
                        int part = (int)Math.Max(0, read + left);
                        if (part > 0)
                        {
                            await to.SendAsync(buffer.AsMemory(0, part), SocketFlags.None);
                        }

                        Cut();
                        return;
                    }

                    await to.SendAsync(buffer.AsMemory(0, read), SocketFlags.None);
                }
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException or InvalidOperationException)
            {
                Cut(counted: false);
            }
        }
    }
}
