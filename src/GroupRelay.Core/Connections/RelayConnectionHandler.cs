using System;
using System.Threading;
using System.Threading.Tasks;
using GroupRelay.Internal;
using Microsoft.Extensions.Logging;

namespace GroupRelay.Transports;

/// <summary>
/// The entry point of the core for transports: accepts an authenticated WebSocket and returns the
/// <see cref="RelaySession"/> the transport drives. Registered as a singleton by <c>AddGroupRelay()</c>.
/// </summary>
/// <remarks>Thread-safe: transports call it concurrently for many connections.</remarks>
/// <example>
/// A transport's connection loop, in outline:
/// <code>
/// await using RelaySession session = await handler.AcceptAsync(userId, socket, ct);
/// while (socket is open) { read a frame; await session.ReceiveTextAsync(frame); }
/// </code>
/// </example>
public sealed class RelayConnectionHandler
{
    private readonly RelayLifecycle _lifecycle;
    private readonly RequestDispatcher _dispatcher;
    private readonly PresenceWatchers _watchers;
    private readonly GroupRelayOptions _options;
    private readonly ILogger _logger;

    internal RelayConnectionHandler(RelayLifecycle lifecycle, RequestDispatcher dispatcher, PresenceWatchers watchers, GroupRelayOptions options, ILogger logger)
    {
        _lifecycle = lifecycle;
        _dispatcher = dispatcher;
        _watchers = watchers;
        _options = options;
        _logger = logger;
    }

    /// <summary>The relay's options, as validated at start-up.</summary>
    public GroupRelayOptions Options => _options;

    /// <summary>Number of open connections in this process.</summary>
    public int ConnectionCount => _lifecycle.ConnectionCount;

    /// <summary>
    /// Accepts a connection of an authenticated user: asks the membership source for the user's groups, registers the
    /// connection, and queues <c>welcome</c> (PROTOCOL.md section 2). When the membership source fails, the returned
    /// session is already closing with 1011; the transport drives it the same way until the socket ends.
    /// </summary>
    /// <param name="userId">The user id the host's authentication established.</param>
    /// <param name="socket">The transport's socket.</param>
    /// <param name="cancellationToken">Cancelled when the client goes away during the handshake.</param>
    /// <returns>The session to feed the connection's frames to; dispose it when the socket has ended.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="userId"/> or <paramref name="socket"/> is null.</exception>
    public async Task<RelaySession> AcceptAsync(string userId, IRelaySocket socket, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(userId);
        ArgumentNullException.ThrowIfNull(socket);
        RelayConnection connection = await _lifecycle.ConnectAsync(userId, socket, cancellationToken).ConfigureAwait(false);
        return new RelaySession(connection, _dispatcher, _lifecycle, _watchers, _options, _logger);
    }

    /// <summary>Closes every connection (for example with 1001 at shutdown) and waits until they are gone or the close timeout passed.</summary>
    /// <param name="closeCode">A code of <see cref="RelayCloseCodes"/>.</param>
    /// <param name="reason">A short reason sent in the close frame.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>A task that completes when every connection is gone or <see cref="GroupRelayOptions.CloseTimeout"/> passed.</returns>
    public Task CloseAllAsync(int closeCode = RelayCloseCodes.GoingAway, string reason = "server shutting down", CancellationToken cancellationToken = default)
        => _lifecycle.CloseAllAsync(closeCode, reason, cancellationToken);
}
