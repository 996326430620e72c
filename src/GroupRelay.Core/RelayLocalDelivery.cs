using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using GroupRelay.Internal;
using Microsoft.Extensions.Logging;

namespace GroupRelay;

/// <summary>
/// The part of the relay that queues frames to the connections of this node. An <see cref="IRelayBackplane"/>
/// receives it in <see cref="IRelayBackplane.Attach"/> and calls it for everything it carries. Created by the relay.
/// </summary>
/// <remarks>
/// Thread-safe. Queuing never blocks: a connection whose queue is full is closed with 4001 and the others go on.
/// For one group, call <see cref="DeliverMessage"/> one message at a time in <c>seq</c> order (the frames then enter
/// every connection's queue in that order).
/// </remarks>
public sealed class RelayLocalDelivery
{
    private readonly GroupMessageRouter _router;
    private readonly PresenceService _presenceService;
    private readonly RelayMetrics _metrics;
    private readonly TimeProvider _clock;
    private readonly IGroupDirectory _directory;
    private readonly GroupRelayOptions _options;
    private readonly ILogger _logger;
    private RelayLifecycle? _lifecycle;

    internal RelayLocalDelivery(GroupMessageRouter router, PresenceService presenceService, IGroupDirectory directory, RelayMetrics metrics, GroupRelayOptions options, TimeProvider clock, ILogger logger)
    {
        _logger = logger;
        _router = router;
        _presenceService = presenceService;
        _directory = directory;
        _metrics = metrics;
        _options = options;
        _clock = clock;
    }

    /// <summary>The relay's options.</summary>
    public GroupRelayOptions Options => _options;

    internal GroupMessageRouter Router => _router;

    internal RelayLifecycle Lifecycle => _lifecycle ?? throw new InvalidOperationException("The relay is not built yet.");

    /// <summary>The relay clock in Unix milliseconds: the <c>ts</c> to stamp into a message.</summary>
    public long GetTimestamp() => _clock.GetUtcNow().ToUnixTimeMilliseconds();

    /// <summary>
    /// Writes the <c>message</c> frame once and queues the same bytes to every open connection on this node of the
    /// listed users (the group's members that this node holds).
    /// </summary>
    /// <param name="users">The group's online members held by this node (others are ignored at no cost beyond a look-up).</param>
    /// <param name="groupId">The group.</param>
    /// <param name="from">The sender.</param>
    /// <param name="seq">The message's sequence number.</param>
    /// <param name="timestamp">The <c>ts</c> in Unix milliseconds.</param>
    /// <param name="body">The body, valid JSON.</param>
    /// <param name="bodyIsCompact">Whether the body can be copied as is.</param>
    /// <param name="skipConnectionId">A connection of this node that must not receive it (the sender with <c>echo:false</c>), or null.</param>
    /// <returns>How many connections took the frame.</returns>
    public int DeliverMessage(IReadOnlyList<string> users, string groupId, string from, long seq, long timestamp, ReadOnlySpan<byte> body, bool bodyIsCompact, string? skipConnectionId)
    {
        ArgumentNullException.ThrowIfNull(users);
        if (users.Count == 0)
        {
            return 0;
        }

        byte[] frame = FrameWriter.Message(groupId, from, seq, timestamp, body, bodyIsCompact);
        int deliveries = _router.QueueToMembersSkipping(users, frame, skipConnectionId);
        _metrics.Delivered(deliveries);
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

        return _router.QueueToMembers(users, FrameWriter.MemberEvent(joined, groupId, userId), skipUser: userId);
    }

    /// <summary>Queues a <c>presence</c> event about <paramref name="userId"/> to every connection on this node that watches it.</summary>
    /// <param name="userId">The user.</param>
    /// <param name="online">Whether the user is online.</param>
    /// <param name="status">The user's status, or null.</param>
    public void DeliverPresence(string userId, bool online, string? status) => _presenceService.NotifyLocal(userId, online, status);

    /// <summary>
    /// Applies a run-time membership change on this node only: updates the group index for the user and queues
    /// <c>added</c> or <c>removed</c> to the user's connections on this node. Sends no <c>joined</c>/<c>left</c>
    /// (the backplane sends those once).
    /// </summary>
    /// <param name="userId">The user.</param>
    /// <param name="groupId">The group.</param>
    /// <param name="add">True to add, false to remove.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>True when this node holds a connection of the user and its membership changed.</returns>
    public Task<bool> ApplyMembershipChangeAsync(string userId, string groupId, bool add, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(userId);
        ArgumentNullException.ThrowIfNull(groupId);
        return Lifecycle.ApplyLocalMembershipChangeAsync(userId, groupId, add, cancellationToken);
    }

    /// <summary>The open connections of a user on this node (empty when none).</summary>
    /// <param name="userId">The user.</param>
    public int CountLocalConnections(string userId) => _router.LocalConnections(userId).Count;

    /// <summary>The group index of this process, as the in-process backplane uses it.</summary>
    internal IGroupDirectory Directory => _directory;

    internal void EventFailed(string userId, Exception exception) => GroupRelayLog.EventFailed(_logger, userId, exception);

    internal void SetLifecycle(RelayLifecycle lifecycle) => _lifecycle = lifecycle;
}
