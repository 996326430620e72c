using System;
using GroupRelay.Internal;
using GroupRelay.Transports;
using Microsoft.Extensions.Logging;

namespace GroupRelay;

/// <summary>
/// One open WebSocket of an authenticated user, as the online list (<see cref="IPresenceRegistry"/>) holds it.
/// Created by the relay when a transport accepts a connection; host code reads it but does not create it.
/// </summary>
/// <remarks>
/// Thread-safe: the public members are immutable; frames may be queued to it from any thread. It carries only what
/// every feature needs (who, and its outbound queue); the state of one feature lives with that feature (the rate limit
/// and pipelined sends with the <see cref="RelaySession"/>, the watch list with presence).
/// </remarks>
public sealed class RelayConnection
{
    internal RelayConnection(string connectionId, string userId, IRelaySocket socket, GroupRelayOptions options, ILogger logger, RelayMetrics? metrics = null)
    {
        ConnectionId = connectionId;
        UserId = userId;
        ConnectedAt = DateTimeOffset.UtcNow;
        Outbound = new OutboundQueue(socket, options, logger, metrics, connectionId, userId);
    }

    /// <summary>The connection-limit slot this connection holds until it ends (null for connections made without one, in tests).</summary>
    internal RelayAdmission? Admission { get; set; }

    /// <summary>The server-assigned id of this connection, unique in this process (sent to the client in <c>welcome</c>).</summary>
    public string ConnectionId { get; }

    /// <summary>The authenticated user id.</summary>
    public string UserId { get; }

    /// <summary>When the connection was accepted (UTC).</summary>
    public DateTimeOffset ConnectedAt { get; }

    /// <summary>True once the connection has started closing; frames queued to it from then on are dropped (and counted).</summary>
    public bool IsClosing => Outbound.IsClosing;

    /// <summary>The bounded outbound queue and its single writer loop: the only way frames reach the socket.</summary>
    internal OutboundQueue Outbound { get; }

    /// <inheritdoc />
    public override string ToString() => $"{ConnectionId} ({UserId})";
}
