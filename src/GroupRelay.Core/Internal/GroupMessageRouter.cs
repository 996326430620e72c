using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;

namespace GroupRelay.Internal;

/// <summary>The outcome of routing one message.</summary>
internal readonly record struct RouteResult(bool NotMember, long Seq, int Deliveries);

/// <summary>
/// The routing algorithm of PROTOCOL.md section 3 (<c>send</c>): check membership, assign the group's next
/// <c>seq</c>, serialise the <c>message</c> frame once, and queue the same bytes to every open connection of every
/// online member of the group.
/// </summary>
/// <remarks>
/// Thread-safety in one sentence: a lock per group spans "take the next seq, queue to every connection", so the
/// frames of one group enter every connection's FIFO queue in seq order, while different groups route in parallel.
/// Queuing never blocks (a full queue closes its own connection with 4001), so the lock is held for microseconds.
/// </remarks>
internal sealed class GroupMessageRouter
{
    private readonly ConcurrentDictionary<string, GroupSequence> _sequences = new(StringComparer.Ordinal);
    private readonly IGroupDirectory _directory;
    private readonly IPresenceRegistry _presence;
    private readonly RelayMetrics _metrics;
    private readonly ILogger _logger;
    private readonly GroupRelayOptions _options;
    private readonly TimeProvider _clock;
    private IRelayBackplane? _scaleOut;

    public GroupMessageRouter(IGroupDirectory directory, IPresenceRegistry presence, RelayMetrics metrics, ILogger logger, GroupRelayOptions options, TimeProvider clock)
    {
        _directory = directory;
        _presence = presence;
        _metrics = metrics;
        _logger = logger;
        _options = options;
        _clock = clock;
    }

    /// <summary>
    /// Sends every message through <paramref name="backplane"/> from now on; the in-process default keeps the local
    /// path below (no indirection, no extra allocation).
    /// </summary>
    public void UseBackplane(IRelayBackplane backplane) => _scaleOut = backplane is InProcessRelayBackplane ? null : backplane;

    /// <summary>
    /// Whether messages go through a scale-out backplane, whose publication completes later (a round trip away) and
    /// which promises to keep a connection's messages in call order (see <see cref="IRelayBackplane"/>).
    /// </summary>
    public bool UsesBackplane => _scaleOut is not null;

    /// <summary>Whether <paramref name="userId"/> may send to <paramref name="group"/>.</summary>
    public ValueTask<bool> IsMemberAsync(string group, string userId, CancellationToken cancellationToken)
        => _directory.IsMemberAsync(group, userId, cancellationToken);

    /// <summary>
    /// Publishes a message whose sender's membership was checked, through the backplane. The backplane takes the
    /// message's place in the group's order before this first awaits, so a caller may start the next one before this
    /// one completes.
    /// </summary>
    public async ValueTask<long> PublishCheckedAsync(string group, string from, ReadOnlyMemory<byte> body, bool bodyIsCompact, RelayConnection? sender, bool echo, CancellationToken cancellationToken)
    {
        long started = Stopwatch.GetTimestamp();
        long seq = await _scaleOut!.PublishMessageAsync(group, from, body, bodyIsCompact, sender, echo, cancellationToken).ConfigureAwait(false);
        _metrics.MessageRouted(0, started);
        return seq;
    }

    /// <summary>Routes a message to a group.</summary>
    /// <param name="group">The target group.</param>
    /// <param name="from">The sender stamped into the frame.</param>
    /// <param name="body">The body, already validated JSON.</param>
    /// <param name="bodyIsCompact">Whether the body can be copied as is.</param>
    /// <param name="sender">The sending connection, or null for server-side publishing (no membership check).</param>
    /// <param name="echo">Whether the sending connection gets the message too.</param>
    /// <param name="cancellationToken">Cancels the membership look-up.</param>
    public async ValueTask<RouteResult> RouteAsync(string group, string from, ReadOnlyMemory<byte> body, bool bodyIsCompact, RelayConnection? sender, bool echo, CancellationToken cancellationToken = default)
    {
        long started = Stopwatch.GetTimestamp();
        if (sender is not null && !await _directory.IsMemberAsync(group, from, cancellationToken).ConfigureAwait(false))
        {
            return new RouteResult(true, 0, 0);
        }

        if (_scaleOut is not null)
        {
            return new RouteResult(false, await PublishCheckedAsync(group, from, body, bodyIsCompact, sender, echo, cancellationToken).ConfigureAwait(false), 0);
        }

        IReadOnlyList<string> members = await _directory.GetMembersAsync(group, cancellationToken).ConfigureAwait(false);
        return SequenceAndQueue(group, from, body.Span, bodyIsCompact, echo ? null : sender, members, started);
    }

    /// <summary>
    /// The in-process path: under the group's lock, take the next seq, write the frame once and queue it to every
    /// connection of <paramref name="members"/> held by this process.
    /// </summary>
    public RouteResult SequenceAndQueue(string group, string from, ReadOnlySpan<byte> body, bool bodyIsCompact, RelayConnection? skip, IReadOnlyList<string> members, long started)
    {
        GroupSequence sequence = _sequences.GetOrAdd(group, static _ => new GroupSequence());
        long seq;
        int deliveries;
        lock (sequence)
        {
            seq = ++sequence.Last;
            byte[] frame = FrameWriter.Message(group, from, seq, _clock.GetUtcNow().ToUnixTimeMilliseconds(), body, bodyIsCompact);
            deliveries = QueueToMembers(members, frame, skip);
        }

        _metrics.MessageRouted(deliveries, started);
        return new RouteResult(false, seq, deliveries);
    }

    /// <summary>Queues one frame to every open connection of every listed user; returns how many took it.</summary>
    public int QueueToMembers(IReadOnlyList<string> users, ReadOnlyMemory<byte> frame, RelayConnection? skip = null, string? skipUser = null)
        => QueueToMembers(users, frame, skip, skipConnectionId: null, skipUser);

    /// <summary>Like the other overload, skipping the connection with id <paramref name="skipConnectionId"/> (a backplane knows ids, not objects).</summary>
    public int QueueToMembersSkipping(IReadOnlyList<string> users, ReadOnlyMemory<byte> frame, string? skipConnectionId)
        => QueueToMembers(users, frame, skip: null, skipConnectionId, skipUser: null);

    // The one fan-out loop: every way of leaving someone out (a connection, a connection id, a user) is a check in it.
    private int QueueToMembers(IReadOnlyList<string> users, ReadOnlyMemory<byte> frame, RelayConnection? skip, string? skipConnectionId, string? skipUser)
    {
        int deliveries = 0;

        // The stores built in (in-memory, Redis) hand out arrays: indexing an array directly saves two interface
        // calls per member and per connection, which is measurable at a thousand deliveries per message.
        if (users is string[] userArray)
        {
            foreach (string user in userArray)
            {
                deliveries += QueueToUser(user, frame, skip, skipConnectionId, skipUser);
            }
        }
        else
        {
            for (int i = 0; i < users.Count; i++)
            {
                deliveries += QueueToUser(users[i], frame, skip, skipConnectionId, skipUser);
            }
        }

        return deliveries;
    }

    private int QueueToUser(string user, ReadOnlyMemory<byte> frame, RelayConnection? skip, string? skipConnectionId, string? skipUser)
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
                deliveries += QueueUnlessSkipped(connection, frame, skip, skipConnectionId);
            }
        }
        else
        {
            for (int j = 0; j < connections.Count; j++)
            {
                deliveries += QueueUnlessSkipped(connections[j], frame, skip, skipConnectionId);
            }
        }

        return deliveries;
    }

    private int QueueUnlessSkipped(RelayConnection connection, ReadOnlyMemory<byte> frame, RelayConnection? skip, string? skipConnectionId)
    {
        if (ReferenceEquals(connection, skip)
            || (skipConnectionId is not null && string.Equals(connection.ConnectionId, skipConnectionId, StringComparison.Ordinal)))
        {
            return 0;
        }

        return Queue(connection, frame) ? 1 : 0;
    }

    /// <summary>The open connections of a user held by this process.</summary>
    public IReadOnlyList<RelayConnection> LocalConnections(string userId) => _presence.GetLocalConnections(userId);

    /// <summary>Queues one frame to one connection, accounting for what cannot be queued.</summary>
    public bool Queue(RelayConnection connection, ReadOnlyMemory<byte> frame)
    {
        switch (connection.Outbound.TryEnqueue(frame))
        {
            case EnqueueResult.Queued:
                return true;
            case EnqueueResult.Overflow:
                GroupRelayLog.SlowConsumer(_logger, connection.ConnectionId, connection.UserId, _options.MaxQueueBytes, _options.MaxQueueFrames);
                _metrics.Dropped(DropReasons.SlowConsumer);
                return false;
            default:
                _metrics.Dropped(DropReasons.ConnectionClosing);
                return false;
        }
    }

    private sealed class GroupSequence
    {
        public long Last;
    }
}
