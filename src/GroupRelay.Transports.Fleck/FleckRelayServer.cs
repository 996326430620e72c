using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Fleck;
using GroupRelay.Transports;
using GroupRelay.Transports.Fleck.Internal;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace GroupRelay.Transports.Fleck;

/// <summary>
/// A Fleck WebSocket server that serves the GroupRelay protocol. Hosted apps register it with
/// <c>services.AddGroupRelay().AddMembershipSource(...).AddFleckServer(location, ...)</c>; programs without a host
/// create one with <see cref="Create"/> and call <see cref="Start"/> and <see cref="DisposeAsync"/>.
/// </summary>
/// <remarks>
/// <para>
/// All protocol logic is in GroupRelay.Core; this class only binds Fleck's connections to it. Stopping or disposing
/// the server closes every client with 1001 (and waits for them, at most <see cref="GroupRelayOptions.CloseTimeout"/>)
/// before the listener goes away.
/// </para>
/// <para>
/// Fleck reads without back-pressure, so frames wait for the session in a bounded per-connection backlog (16 frames
/// of <see cref="GroupRelayOptions.MaxFrameBytes"/>, at least 1 MiB); a client that overflows it is closed with 4008.
/// A frame is never buffered beyond <see cref="GroupRelayOptions.MaxFrameBytes"/>: a larger one closes with 1009 as
/// soon as it cannot fit.
/// </para>
/// <para>
/// Keep-alive: every <see cref="GroupRelayOptions.KeepAliveInterval"/> each connection gets a ping frame (Fleck sends
/// pings but never on its own). A peer that has sent nothing (no pong, no frame) for
/// <see cref="GroupRelayOptions.KeepAliveInterval"/> + <see cref="GroupRelayOptions.KeepAliveTimeout"/> is dropped
/// without a close frame, as on ASP.NET Core: it goes offline and its groups' members get <c>left</c>.
/// </para>
/// <para>
/// Fleck binds an IP address, not a host name: use <c>ws://127.0.0.1:8181</c>, <c>ws://0.0.0.0:8181</c> (all
/// interfaces) or port 0 for a free port (<see cref="Port"/> tells which). Fleck logs through its static
/// <c>FleckLog</c> (to the console by default), which is the host's to configure.
/// </para>
/// </remarks>
/// <example>
/// <code>
/// await using FleckRelayServer server = FleckRelayServer.Create("ws://0.0.0.0:8181", membership,
///     o =&gt; o.Authenticate = info =&gt; FleckRelayAuthentication.GetAccessToken(info) is { } token ? tokens.UserOf(token) : null);
/// server.Start();
/// await server.Relay.AddUserToGroupAsync("alice", "team");
/// </code>
/// </example>
public sealed class FleckRelayServer : IAsyncDisposable, IDisposable
{
    private readonly ConcurrentDictionary<FleckRelayConnection, byte> _connections = new();
    private readonly ServiceProvider? _ownedServices;
    private readonly object _gate = new();
    private WebSocketServer? _server;
    private Timer? _keepAlive;
    private int _keepAliveRunning;
    private Task? _stopTask;
    private volatile bool _stopping;

    internal FleckRelayServer(string location, FleckRelayServerOptions options, IServiceProvider services, ServiceProvider? ownedServices)
    {
        Location = ValidateLocation(location);
        Options = options;
        Handler = services.GetRequiredService<RelayConnectionHandler>();
        Relay = services.GetRequiredService<IGroupRelay>();
        Logger = services.GetService<ILoggerFactory>()?.CreateLogger("GroupRelay.Transports.Fleck") ?? NullLogger.Instance;
        _ownedServices = ownedServices;
    }

    /// <summary>The location the server listens on, as given, for example <c>ws://0.0.0.0:8181</c>.</summary>
    public string Location { get; }

    /// <summary>The port the server listens on: once started, the actual one (also when <see cref="Location"/> names port 0).</summary>
    public int Port => _server?.Port ?? new Uri(Location).Port;

    /// <summary>The relay, for host code: publish to a group, change membership at run time, read presence.</summary>
    public IGroupRelay Relay { get; }

    internal RelayConnectionHandler Handler { get; }

    internal FleckRelayServerOptions Options { get; }

    internal ILogger Logger { get; }

    internal bool IsStopping => _stopping;

    /// <summary>
    /// Creates a server for a program without a host: builds the relay core in a private service container that the
    /// server owns and disposes.
    /// </summary>
    /// <param name="location">Where to listen, for example <c>ws://0.0.0.0:8181</c> (an IP address, not a host name).</param>
    /// <param name="membershipSource">Which groups a user belongs to (the host application's own data).</param>
    /// <param name="configure">Sets the authenticator and the transport's other options.</param>
    /// <param name="configureRelay">Sets the relay's options; null keeps the defaults.</param>
    /// <param name="loggerFactory">Where GroupRelay logs; null logs nothing.</param>
    /// <returns>The server, not yet started.</returns>
    /// <exception cref="OptionsValidationException">An option is invalid; the message names it.</exception>
    public static FleckRelayServer Create(string location, IMembershipSource membershipSource, Action<FleckRelayServerOptions> configure, Action<GroupRelayOptions>? configureRelay = null, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(location);
        ArgumentNullException.ThrowIfNull(membershipSource);
        ArgumentNullException.ThrowIfNull(configure);
        ValidateLocation(location);

        var options = new FleckRelayServerOptions();
        configure(options);
        ValidateOptionsResult result = new FleckRelayServerOptionsValidator().Validate(null, options);
        if (result.Failed)
        {
            throw new OptionsValidationException(Microsoft.Extensions.Options.Options.DefaultName, typeof(FleckRelayServerOptions), result.Failures);
        }

        var services = new ServiceCollection();
        if (loggerFactory is not null)
        {
            services.AddSingleton(loggerFactory);
        }

        services.AddGroupRelay(configureRelay ?? (static _ => { })).AddMembershipSource(membershipSource);
        ServiceProvider provider = services.BuildServiceProvider();
        try
        {
            // Resolving the core here validates the relay's options now, not at the first connection.
            return new FleckRelayServer(location, options, provider, provider);
        }
        catch
        {
            provider.Dispose();
            throw;
        }
    }

    /// <summary>Starts listening. Throws when the address cannot be bound (for example, the port is in use).</summary>
    /// <exception cref="InvalidOperationException">The server was already started or stopped.</exception>
    public void Start()
    {
        lock (_gate)
        {
            if (_server is not null || _stopTask is not null)
            {
                throw new InvalidOperationException("The GroupRelay Fleck server can be started once.");
            }

            var server = new WebSocketServer(Location) { SupportedSubProtocols = new[] { Options.SubProtocol } };
            Options.ConfigureServer?.Invoke(server);

            // Fleck drops the frames that arrive in the same read as the handshake; this socket keeps them for the next read.
            server.ListenerSocket = new HandshakeBoundarySocket(server.ListenerSocket);
            try
            {
                server.Start(OnConnection);
            }
            catch
            {
                server.Dispose();
                throw;
            }

            _server = server;
            TimeSpan beat = FleckRelayConnection.KeepAliveBeat(Handler.Options);
            if (beat > TimeSpan.Zero)
            {
                _keepAlive = new Timer(static state => ((FleckRelayServer)state!).KeepAlive(), this, beat, beat);
            }

            FleckTransportLog.Started(Logger, Location, server.Port);
        }
    }

    /// <summary>
    /// Stops the server: refuses new connections (closed with 1001 right after open), closes every client with 1001
    /// and waits until they are gone (at most <see cref="GroupRelayOptions.CloseTimeout"/>, then their sockets are
    /// closed), then stops listening. Later calls return the same task.
    /// </summary>
    /// <param name="cancellationToken">Stops waiting for clients; the listener is still closed.</param>
    public Task StopAsync(CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            _stopping = true;
            return _stopTask ??= StopCoreAsync(cancellationToken);
        }
    }

    /// <summary>Stops the server (see <see cref="StopAsync"/>) and releases it.</summary>
    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        if (_ownedServices is not null)
        {
            await _ownedServices.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Stops the server (see <see cref="StopAsync"/>) and releases it, blocking until the clients are closed (at most
    /// <see cref="GroupRelayOptions.CloseTimeout"/>). Prefer <see cref="DisposeAsync"/> where the caller can await.
    /// </summary>
    public void Dispose()
    {
        // Synchronous by contract (using blocks, DI containers disposed synchronously): block once, here only.
        DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    internal void Remove(FleckRelayConnection connection) => _connections.TryRemove(connection, out _);

    private async Task StopCoreAsync(CancellationToken cancellationToken)
    {
        if (_server is null)
        {
            return;
        }

        FleckTransportLog.Stopping(Logger, Location);
        if (_keepAlive is not null)
        {
            await _keepAlive.DisposeAsync().ConfigureAwait(false);
        }

        try
        {
            await Handler.CloseAllAsync(RelayCloseCodes.GoingAway, "server shutting down", cancellationToken).ConfigureAwait(false);

            // Also the connections that were still authenticating: they close themselves with 1001 on seeing IsStopping.
            FleckRelayConnection[] pending = _connections.Keys.ToArray();
            try
            {
                await Task.WhenAll(pending.Select(c => c.Finished)).WaitAsync(Handler.Options.CloseTimeout + TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                FleckRelayConnection[] left = _connections.Keys.ToArray();
                FleckTransportLog.StopTimedOut(Logger, left.Length, Location);
                foreach (FleckRelayConnection connection in left)
                {
                    connection.Abort();
                }
            }
        }
        finally
        {
            // Fleck's listener only: WebSocketServer.Dispose leaves the client connections alone, they are closed above.
            _server.Dispose();
        }
    }

    private void OnConnection(IWebSocketConnection socket)
    {
        // Fleck's I/O thread, before the handshake is answered: only wire the callbacks here. A connection that opens
        // while the server stops is closed with 1001 by its own loop.
        var connection = new FleckRelayConnection(socket, this);
        _connections.TryAdd(connection, 0);
        if (!connection.Attach())
        {
            _connections.TryRemove(connection, out _);
            socket.OnOpen = socket.Close;
        }
    }

    private void KeepAlive()
    {
        // A timer's callbacks may overlap when one overruns its period (a stalled thread pool): skip the beat instead.
        if (Interlocked.Exchange(ref _keepAliveRunning, 1) != 0)
        {
            return;
        }

        try
        {
            long now = System.Diagnostics.Stopwatch.GetTimestamp();
            foreach (FleckRelayConnection connection in _connections.Keys)
            {
                connection.KeepAlive(now);
            }
        }
        finally
        {
            Volatile.Write(ref _keepAliveRunning, 0);
        }
    }

    internal static string ValidateLocation(string location)
    {
        ArgumentNullException.ThrowIfNull(location);
        if (!Uri.TryCreate(location, UriKind.Absolute, out Uri? uri) || uri.Scheme is not ("ws" or "wss"))
        {
            throw new ArgumentException($"The Fleck server location '{location}' is not a ws:// or wss:// address such as ws://0.0.0.0:8181.", nameof(location));
        }

        if (uri.Host != "0.0.0.0" && !System.Net.IPAddress.TryParse(uri.Host, out _))
        {
            throw new ArgumentException($"The Fleck server location '{location}' must name an IP address (Fleck does not resolve host names): use ws://127.0.0.1:{uri.Port} or ws://0.0.0.0:{uri.Port}.", nameof(location));
        }

        return location;
    }
}
