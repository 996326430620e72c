using System;
using System.Collections.Generic;
using System.Threading.Tasks;
using GroupRelay.Internal;
using Microsoft.Extensions.Logging;

namespace GroupRelay;

/// <summary>
/// One open WebSocket of an authenticated user, as the online list holds it. Created by the relay when a
/// transport accepts a connection; host code reads it but does not create it.
/// </summary>
/// <remarks>Thread-safe: the public members are immutable; frames may be queued to it from any thread.</remarks>
public sealed class RelayConnection
{
    private readonly Dictionary<string, PresenceState?> _watched = new(StringComparer.Ordinal);

    internal RelayConnection(string connectionId, string userId, IRelaySocket socket, GroupRelayOptions options, ILogger logger)
    {
        ConnectionId = connectionId;
        UserId = userId;
        ConnectedAt = DateTimeOffset.UtcNow;
        Outbound = new OutboundQueue(socket, options, logger, connectionId);
        RateLimiter = options.RateLimitEnabled
            ? new TokenBucket(options.RateLimitPerSecond, options.RateLimitBurst, options.FloodRejectionsPerSecond)
            : null;
    }

    /// <summary>The server-assigned id of this connection, unique in this process (sent to the client in <c>welcome</c>).</summary>
    public string ConnectionId { get; }

    /// <summary>The authenticated user id.</summary>
    public string UserId { get; }

    /// <summary>When the connection was accepted (UTC).</summary>
    public DateTimeOffset ConnectedAt { get; }

    /// <summary>True once the connection has started closing; frames queued to it from then on are dropped.</summary>
    public bool IsClosing => Outbound.IsClosing;

    internal OutboundQueue Outbound { get; }

    internal TokenBucket? RateLimiter { get; }

    /// <summary>
    /// Users this connection watches, with the state it last told the client about each (null: not told yet), so only
    /// changes are pushed. Guarded by locking the dictionary: touched by the receive loop, presence events and disposal.
    /// </summary>
    internal Dictionary<string, PresenceState?> Watched => _watched;

    /// <summary>Changes of watched users that arrived while their watch result was being built (guarded by <see cref="Watched"/>'s lock).</summary>
    internal Dictionary<string, PresenceState>? PendingPresence { get; set; }

    /// <summary>
    /// The answers (ack or error) of this connection's sends still in flight through a backplane, chained in request
    /// order; null when there are none. Read and written only by the connection's receive loop.
    /// </summary>
    internal Task? PendingSends { get; set; }

    /// <summary>How many sends are in flight through a backplane (decremented as each is answered).</summary>
    internal int PipelinedSends;

    /// <inheritdoc />
    public override string ToString() => $"{ConnectionId} ({UserId})";
}
