using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;
using System.Threading.Tasks;
using GroupRelay.Internal;

namespace GroupRelay.ScaleOut;

/// <summary>
/// Where everything a backplane carries lands on this node: it writes each frame once and queues the same bytes to
/// every open connection here that should get it (the fan-out), pushes presence events to this node's watchers, and
/// applies run-time membership changes to this node's connections. Every <see cref="IRelayBackplane"/>, the
/// in-process default included, delivers through it. Created by <c>AddGroupRelay()</c>; a backplane takes it from DI.
/// </summary>
/// <remarks>
/// Thread-safe. Queuing never blocks: a connection whose queue overflows is closed with 4001 (a slow consumer, logged
/// and counted) and the others go on. For one group, call <see cref="DeliverMessage"/> one message at a time in
/// <c>seq</c> order; the frames then enter every connection's FIFO queue in that order (PROTOCOL.md section 3).
/// </remarks>
public sealed class RelayLocalDelivery
{
    private readonly IPresenceRegistry _presence;
    private readonly PresenceWatchers _watchers;
    private readonly LocalMembership _membership;
    private readonly RelayMetrics _metrics;
    private readonly TimeProvider _clock;

    internal RelayLocalDelivery(IPresenceRegistry presence, PresenceWatchers watchers, LocalMembership membership, RelayMetrics metrics, GroupRelayOptions options, TimeProvider clock)
    {
        _presence = presence;
        _watchers = watchers;
        _membership = membership;
        _metrics = metrics;
        Options = options;
        _clock = clock;
    }

    /// <summary>The relay's options, as validated at start-up.</summary>
    public GroupRelayOptions Options { get; }

    /// <summary>The relay clock (the host's <see cref="TimeProvider"/>) in Unix milliseconds: the <c>ts</c> to stamp into a message.</summary>
    /// <returns>Milliseconds since 1970-01-01T00:00:00Z.</returns>
    public long GetTimestamp() => _clock.GetUtcNow().ToUnixTimeMilliseconds();

    /// <summary>
    /// Writes the <c>message</c> frame once and queues the same bytes to every open connection on this node of the
    /// listed users (the group's members that this node holds).
    /// </summary>
    /// <param name="users">The group's online members held by this node (others cost one look-up and are skipped).</param>
    /// <param name="groupId">The group.</param>
    /// <param name="from">The sender.</param>
    /// <param name="seq">The message's sequence number in the group's stream.</param>
    /// <param name="timestamp">The <c>ts</c> in Unix milliseconds.</param>
    /// <param name="body">The body, valid JSON.</param>
    /// <param name="bodyIsCompact">Whether the body can be copied as is (else it is compacted, PROTOCOL.md section 3).</param>
    /// <param name="skipConnectionId">A connection of this node that must not receive it (the sender with <c>echo:false</c>), or null.</param>
    /// <returns>How many connections took the frame.</returns>
    public int DeliverMessage(IReadOnlyList<string> users, string groupId, string from, long seq, long timestamp, ReadOnlySpan<byte> body, bool bodyIsCompact, string? skipConnectionId)
    {
        ArgumentNullException.ThrowIfNull(users);
        if (users.Count == 0)
        {
            return 0;
        }

        long started = Stopwatch.GetTimestamp();
        return DeliverMessageFrame(users, groupId, seq, FrameWriter.Message(groupId, from, seq, timestamp, body, bodyIsCompact), skipConnectionId, started);
    }

    /// <summary>
    /// Writes the <c>message</c> frame exactly as <see cref="DeliverMessage"/> does for the same arguments (the writer is
    /// deterministic), so a backplane that retains the fields of a message rebuilds the delivered bytes for <c>history</c>
    /// (PROTOCOL.md section 3: "each exactly as it was first delivered").
    /// </summary>
    /// <param name="groupId">The group.</param>
    /// <param name="from">The sender.</param>
    /// <param name="seq">The message's sequence number in the group's stream.</param>
    /// <param name="timestamp">The <c>ts</c> in Unix milliseconds, as it was delivered.</param>
    /// <param name="body">The body, valid JSON.</param>
    /// <param name="bodyIsCompact">Whether the body can be copied as is (else it is compacted).</param>
    /// <returns>The frame's UTF-8 bytes.</returns>
    public static byte[] WriteMessageFrame(string groupId, string from, long seq, long timestamp, ReadOnlySpan<byte> body, bool bodyIsCompact)
    {
        ArgumentNullException.ThrowIfNull(groupId);
        ArgumentNullException.ThrowIfNull(from);
        return FrameWriter.Message(groupId, from, seq, timestamp, body, bodyIsCompact);
    }

    /// <summary>Queues a <c>message</c> frame already written (and retained) by the in-process stream owner.</summary>
    internal int DeliverMessageFrame(IReadOnlyList<string> users, string groupId, long seq, byte[] frame, string? skipConnectionId, long started = 0)
    {
        if (users.Count == 0)
        {
            return 0;
        }

        started = started == 0 ? Stopwatch.GetTimestamp() : started;
        using Activity? activity = RelayTracing.StartDeliver(groupId, seq);
        int deliveries = FanOut(users, frame, skipConnectionId, skipUser: null);
        activity?.SetTag("grouprelay.deliveries", deliveries);
        _metrics.Delivered(deliveries, started);
        return deliveries;
    }

    /// <summary>Queues <c>joined</c> or <c>left</c> to every open connection on this node of the listed users, except <paramref name="userId"/>'s.</summary>
    /// <param name="users">The group's online members held by this node.</param>
    /// <param name="groupId">The group.</param>
    /// <param name="userId">The user the event is about.</param>
    /// <param name="joined">True for <c>joined</c>.</param>
    /// <returns>How many connections took the frame.</returns>
    public int DeliverMemberEvent(IReadOnlyList<string> users, string groupId, string userId, bool joined)
    {
        ArgumentNullException.ThrowIfNull(users);
        if (users.Count == 0 || (users.Count == 1 && string.Equals(users[0], userId, StringComparison.Ordinal)))
        {
            return 0;
        }

        return FanOut(users, FrameWriter.MemberEvent(joined, groupId, userId), skipConnectionId: null, skipUser: userId);
    }

    /// <summary>
    /// Queues <c>reset</c> (PROTOCOL.md section 3, "Stream reset") to every open connection on this node of the listed
    /// users: the group's stream restarted its numbering under a new epoch (with a backplane, for example because the
    /// backplane lost the stream's state). A backplane calls it when it sees a group's epoch change, before it delivers
    /// the first message of the new epoch, in the same one-at-a-time order as <see cref="DeliverMessage"/>.
    /// </summary>
    /// <param name="users">The group's online members held by this node.</param>
    /// <param name="groupId">The group.</param>
    /// <param name="position">The new epoch, with the seq of its latest message (0 before its first).</param>
    /// <returns>How many connections took the frame.</returns>
    public int DeliverReset(IReadOnlyList<string> users, string groupId, StreamPosition position)
    {
        ArgumentNullException.ThrowIfNull(users);
        ArgumentNullException.ThrowIfNull(groupId);
        ArgumentNullException.ThrowIfNull(position.Epoch, nameof(position));
        if (users.Count == 0)
        {
            return 0;
        }

        return FanOut(users, FrameWriter.Reset(groupId, position), skipConnectionId: null, skipUser: null);
    }

    /// <summary>Queues a <c>presence</c> event about <paramref name="userId"/> to every connection on this node that watches it.</summary>
    /// <param name="userId">The user.</param>
    /// <param name="online">Whether the user is online.</param>
    /// <param name="status">The user's status, or null.</param>
    public void DeliverPresence(string userId, bool online, string? status)
    {
        ArgumentNullException.ThrowIfNull(userId);
        _watchers.NotifyLocal(userId, online, status);
    }

    /// <summary>
    /// Applies a run-time membership change on this node only: updates the group index for the user and queues
    /// <c>added</c> or <c>removed</c> to the user's connections on this node, before the user becomes routable in the
    /// group. Sends no <c>joined</c>/<c>left</c>: the relay announces those once, through the backplane.
    /// </summary>
    /// <param name="userId">The user.</param>
    /// <param name="groupId">The group.</param>
    /// <param name="add">True to add, false to remove.</param>
    /// <param name="position">The group stream's current position, sent in <c>added</c> (PROTOCOL.md section 3); ignored when removing.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>True when this node holds a connection of the user and its membership changed.</returns>
    public Task<bool> ApplyMembershipChangeAsync(string userId, string groupId, bool add, StreamPosition position, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(userId);
        ArgumentNullException.ThrowIfNull(groupId);
        return _membership.ApplyChangeAsync(userId, groupId, add, position, cancellationToken);
    }

    /// <summary>Whether this node holds an open connection of the user.</summary>
    /// <param name="userId">The user.</param>
    /// <returns>True when at least one connection of the user is open here.</returns>
    public bool HasLocalConnections(string userId)
    {
        ArgumentNullException.ThrowIfNull(userId);
        return _membership.HasLocalConnections(userId);
    }

    // The one fan-out loop: both ways of leaving someone out (the sending connection, the user an event is about) are
    // a check in it. The stores built in hand out arrays: indexing an array directly saves two interface calls per
    // member and per connection, which is measurable at a thousand deliveries per message.
    private int FanOut(IReadOnlyList<string> users, byte[] frame, string? skipConnectionId, string? skipUser)
    {
        int deliveries = 0;
        if (users is string[] userArray)
        {
            foreach (string user in userArray)
            {
                deliveries += QueueToUser(user, frame, skipConnectionId, skipUser);
            }
        }
        else
        {
            for (int i = 0; i < users.Count; i++)
            {
                deliveries += QueueToUser(users[i], frame, skipConnectionId, skipUser);
            }
        }

        return deliveries;
    }

    private int QueueToUser(string user, byte[] frame, string? skipConnectionId, string? skipUser)
    {
        if (skipUser is not null && string.Equals(user, skipUser, StringComparison.Ordinal))
        {
            return 0;
        }

        IReadOnlyList<RelayConnection> connections = _presence.GetLocalConnections(user);
        int deliveries = 0;
        if (connections is RelayConnection[] array)
        {
            foreach (RelayConnection connection in array)
            {
                deliveries += QueueUnlessSkipped(connection, frame, skipConnectionId);
            }
        }
        else
        {
            for (int j = 0; j < connections.Count; j++)
            {
                deliveries += QueueUnlessSkipped(connections[j], frame, skipConnectionId);
            }
        }

        return deliveries;
    }

    private static int QueueUnlessSkipped(RelayConnection connection, byte[] frame, string? skipConnectionId)
    {
        if (skipConnectionId is not null && string.Equals(connection.ConnectionId, skipConnectionId, StringComparison.Ordinal))
        {
            return 0;
        }

        return connection.Outbound.TryEnqueue(frame) == EnqueueResult.Queued ? 1 : 0;
    }
}
