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
    private readonly ConnectionLimits _limits;
    private readonly RelayMetrics _metrics;
    private readonly MembershipLoader _loader;

    internal RelayConnectionHandler(RelayLifecycle lifecycle, RequestDispatcher dispatcher, PresenceWatchers watchers, ConnectionLimits limits, MembershipLoader loader, RelayMetrics metrics, GroupRelayOptions options, ILogger logger)
    {
        _loader = loader;
        _limits = limits;
        _metrics = metrics;
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
    public Task<RelaySession> AcceptAsync(string userId, IRelaySocket socket, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(userId);
        ArgumentNullException.ThrowIfNull(socket);
        return AcceptAsync(Admit(userId, remoteAddress: null), socket, cancellationToken);
    }

    /// <summary>
    /// Takes a slot for a connection of <paramref name="userId"/> from <paramref name="remoteAddress"/> under the
    /// connection limits (<see cref="GroupRelayOptions.MaxConnectionsPerUser"/>, <see cref="GroupRelayOptions.MaxConnectionsPerAddress"/>,
    /// <see cref="GroupRelayOptions.MaxConnections"/>). Call it before accepting the WebSocket: a transport that can
    /// still answer the handshake refuses a full limit with HTTP 429 (<see cref="RelayAdmission.RefusalReason"/> says
    /// which); either way pass the result to <see cref="AcceptAsync(RelayAdmission, IRelaySocket, CancellationToken)"/>
    /// or dispose it. A refusal is logged (event 26) and counted (<c>grouprelay.connection.refusals{grouprelay.connection.limit}</c>).
    /// </summary>
    /// <param name="userId">The user id the host's authentication established.</param>
    /// <param name="remoteAddress">The client's address (as text, e.g. <c>127.0.0.1</c>), or null when unknown (then only the user and total limits apply).</param>
    /// <returns>The slot, admitted or refused.</returns>
    public RelayAdmission Admit(string userId, string? remoteAddress) => Admit(userId, remoteAddress, membership: null);

    /// <summary>
    /// As <see cref="Admit(string, string?)"/> for a user whose groups were asked before the upgrade
    /// (<see cref="LoadMembershipAsync"/>): the connection uses that answer instead of asking again.
    /// </summary>
    /// <param name="membership">What <see cref="LoadMembershipAsync"/> returned.</param>
    /// <param name="remoteAddress">The client's address, or null when unknown.</param>
    /// <returns>The slot, admitted or refused.</returns>
    public RelayAdmission Admit(RelayMembership membership, string? remoteAddress)
    {
        ArgumentNullException.ThrowIfNull(membership);
        return Admit(membership.UserId, remoteAddress, membership.Load);
    }

    /// <summary>
    /// Asks the host's <see cref="IMembershipSource"/> for the user's groups before the transport accepts the WebSocket,
    /// so that a user the host does not know (<see cref="UnknownUserException"/>) is refused with HTTP 401 rather than
    /// closed with 4003 after open (PROTOCOL.md section 6.4). Bounded by <see cref="GroupRelayOptions.MembershipTimeout"/>;
    /// other failures are carried to the connection, which closes with 1011 as before.
    /// </summary>
    /// <param name="userId">The user id the host's authentication established.</param>
    /// <param name="cancellationToken">Cancelled when the client goes away.</param>
    /// <returns>The answer; pass it to <see cref="Admit(RelayMembership, string?)"/>.</returns>
    public async Task<RelayMembership> LoadMembershipAsync(string userId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(userId);
        MembershipLoad load = await _loader.LoadAsync(userId, "(before the upgrade)", cancellationToken).ConfigureAwait(false);
        return new RelayMembership(userId, load);
    }

    private RelayAdmission Admit(string userId, string? remoteAddress, MembershipLoad? membership)
    {
        ArgumentNullException.ThrowIfNull(userId);
        (string? limit, string? reason) = _limits.TryAdmit(userId, remoteAddress);
        if (limit is not null)
        {
            _metrics.ConnectionRefused(limit);
            GroupRelayLog.ConnectionLimit(_logger, userId, reason!);
        }

        return new RelayAdmission(_limits, userId, remoteAddress, reason) { Membership = membership };
    }

    /// <summary>
    /// Accepts a connection with the slot <see cref="Admit(string, string?)"/> gave: as <see cref="AcceptAsync(string, IRelaySocket, CancellationToken)"/>
    /// when admitted (the connection holds the slot until it ends); when refused, the returned session is already
    /// closing with 1013 (try again later), for transports that accept before they can refuse.
    /// </summary>
    /// <param name="admission">The slot from <see cref="Admit(string, string?)"/>; the connection takes it over.</param>
    /// <param name="socket">The transport's socket.</param>
    /// <param name="cancellationToken">Cancelled when the client goes away during the handshake.</param>
    /// <returns>The session to feed the connection's frames to; dispose it when the socket has ended.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="admission"/> or <paramref name="socket"/> is null.</exception>
    public async Task<RelaySession> AcceptAsync(RelayAdmission admission, IRelaySocket socket, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(admission);
        ArgumentNullException.ThrowIfNull(socket);
        RelayConnection connection = await _lifecycle.ConnectAsync(admission.UserId, socket, admission, cancellationToken).ConfigureAwait(false);
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
