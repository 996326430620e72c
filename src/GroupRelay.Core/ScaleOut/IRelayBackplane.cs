using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace GroupRelay.ScaleOut;

/// <summary>
/// The one path of every effect that crosses connections: group messages (with their <c>seq</c>), <c>joined</c> and
/// <c>left</c> events, presence events and run-time membership changes. A backplane is the <b>owner of each group's
/// stream</b>: it alone assigns a group's <c>seq</c>, so the numbering is the same on every node it connects.
/// The default (in-process) backplane makes one process the whole relay; a scale-out package (for example
/// <c>AddRedis()</c>) replaces it so several nodes behave as one server. Nothing above this interface asks which one
/// is present.
/// </summary>
/// <remarks>
/// <para>
/// A backplane receives this node's <see cref="RelayLocalDelivery"/> through its constructor (resolve it from DI)
/// and delivers everything it carries through it, including what this node published itself, so every node (this
/// one included) sees the same order.
/// </para>
/// <para>
/// Thread-safety: every member is called concurrently from many connections. The event methods
/// (<see cref="PublishMemberEvent"/>, <see cref="PublishPresence"/>) may be called while the relay holds a user's
/// lock: they must not block (queue or fire and forget) and must not throw; a failure is logged and counted by the
/// backplane.
/// </para>
/// <para>
/// Ordering contract (PROTOCOL.md section 3, <c>send</c>): for one group, the messages that
/// <see cref="PublishMessageAsync"/> numbers reach <see cref="RelayLocalDelivery.DeliverMessage"/> on every node in
/// increasing <c>seq</c>, one at a time.
/// </para>
/// <para>
/// Pipelining contract: the relay does not wait for <see cref="PublishMessageAsync"/> to complete before it reads a
/// connection's next frame, so a connection can have several calls in flight, made in the order of its requests. An
/// implementation keeps a sender's messages in that order by taking each message's place in the group's order before
/// it first awaits, and reads <c>body</c> only until then: the transport reuses that buffer for the next frame.
/// </para>
/// </remarks>
public interface IRelayBackplane
{
    /// <summary>
    /// Assigns the group's next <c>seq</c> and delivers the <c>message</c> to every connection of every online member of
    /// the group on every node. The sender's membership has already been checked.
    /// </summary>
    /// <param name="groupId">The group.</param>
    /// <param name="from">The sender stamped into the frame; also the scope of <paramref name="idempotencyKey"/>.</param>
    /// <param name="body">The body, already validated JSON; only read before the method first awaits (see the pipelining contract).</param>
    /// <param name="bodyIsCompact">Whether the body can be copied into the frame as is.</param>
    /// <param name="sender">The sending connection, or null for server-side publishing.</param>
    /// <param name="echo">False when <paramref name="sender"/> must not receive its own message.</param>
    /// <param name="idempotencyKey">
    /// The client's request <c>id</c>, or null. A key that <paramref name="from"/> used inside
    /// <see cref="GroupRelayOptions.IdempotencyWindow"/> (on any connection and any node) publishes nothing again: the
    /// outcome is the first one, marked <see cref="PublishOutcome.Duplicate"/>, or <see cref="PublishOutcome.ConflictingGroup"/>
    /// when it was used for another group (PROTOCOL.md section 3, "Idempotent send").
    /// </param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The outcome. When <paramref name="sender"/> gets the echo, it is queued before this completes.</returns>
    ValueTask<PublishOutcome> PublishMessageAsync(string groupId, string from, ReadOnlyMemory<byte> body, bool bodyIsCompact, RelayConnection? sender, bool echo, string? idempotencyKey, CancellationToken cancellationToken = default);

    /// <summary>
    /// The current position of each group's stream (the <c>positions</c> of <c>welcome</c>, PROTOCOL.md section 2), in the
    /// order of <paramref name="groupIds"/>. A group whose stream has no state yet starts one (a new epoch, seq 0).
    /// </summary>
    /// <param name="groupIds">The groups, distinct.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>One position per group, in the same order.</returns>
    ValueTask<IReadOnlyList<StreamPosition>> GetPositionsAsync(IReadOnlyList<string> groupIds, CancellationToken cancellationToken = default);

    /// <summary>
    /// Reads a group stream's retained messages for <c>history</c> (PROTOCOL.md section 3): the <c>message</c> frames with a
    /// seq above <paramref name="after"/>, oldest first, at most <paramref name="limit"/>, each exactly as it was first
    /// delivered. The membership of the asking user has already been checked.
    /// </summary>
    /// <param name="groupId">The group.</param>
    /// <param name="after">The last seq the client has (0 for everything retained).</param>
    /// <param name="epoch">The epoch the client's <paramref name="after"/> belongs to, or null for the current one; another epoch replays nothing.</param>
    /// <param name="limit">The most frames to return, 1 to 1,000.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>
    /// The frames, the stream's current position, and whether the replay is complete; or, when the stream cannot be read
    /// now (a shared store out of reach), a page marked <see cref="HistoryPage.Unavailable"/>: the client gets <c>unavailable</c>.
    /// </returns>
    ValueTask<HistoryPage> ReadHistoryAsync(string groupId, long after, string? epoch, int limit, CancellationToken cancellationToken = default);

    /// <summary>Sends <c>joined</c> or <c>left</c> about <paramref name="userId"/> to the group's other online members on every node.</summary>
    /// <param name="groupId">The group.</param>
    /// <param name="userId">The user who came online in the group (or was added) or went offline (or was removed).</param>
    /// <param name="joined">True for <c>joined</c>, false for <c>left</c>.</param>
    void PublishMemberEvent(string groupId, string userId, bool joined);

    /// <summary>Sends a <c>presence</c> event about <paramref name="userId"/> to every connection watching that user on every node.</summary>
    /// <param name="userId">The user whose state changed.</param>
    /// <param name="online">Whether the user is online.</param>
    /// <param name="status">The user's status, or null.</param>
    void PublishPresence(string userId, bool online, string? status);

    /// <summary>
    /// Applies a run-time membership change on every node that holds a connection of the user (each calls
    /// <see cref="RelayLocalDelivery.ApplyMembershipChangeAsync"/>, which sends <c>added</c>, with the group's current
    /// position, or <c>removed</c> to its connections of the user). The relay announces <c>joined</c>/<c>left</c> afterwards through
    /// <see cref="PublishMemberEvent"/>: the same two steps, "apply, then announce", with every backplane.
    /// </summary>
    /// <param name="userId">The user.</param>
    /// <param name="groupId">The group.</param>
    /// <param name="add">True to add, false to remove.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>
    /// True when the change was applied (routing follows it when this completes); false when the user is offline, or
    /// already a member (add), or not a member (remove).
    /// </returns>
    Task<bool> ChangeMembershipAsync(string userId, string groupId, bool add, CancellationToken cancellationToken = default);

    /// <summary>
    /// The backplane's own health, for <c>services.AddHealthChecks().AddGroupRelay()</c>: whether it can order and deliver
    /// messages now (for a shared store, its connection and whether this node's state in it is complete). The default
    /// (an in-process backplane) is always healthy.
    /// </summary>
    /// <param name="cancellationToken">Cancelled when the health check times out.</param>
    /// <returns>Healthy, degraded (working, with a reason) or unhealthy (sends are refused with <c>unavailable</c>), with data.</returns>
    ValueTask<HealthCheckResult> CheckHealthAsync(CancellationToken cancellationToken = default)
        => new(HealthCheckResult.Healthy("in process"));
}
