using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using GroupRelay.ScaleOut;

namespace GroupRelay.Internal;

/// <summary>
/// The routing algorithm of PROTOCOL.md section 3 (<c>send</c>), as every caller enters it (a client's <c>send</c>,
/// <see cref="IGroupRelay.PublishAsync(string, ReadOnlyMemory{byte}, string, CancellationToken)"/>): (1) the sender must
/// be a member of the group; (2) the group's stream owner, the <see cref="IRelayBackplane"/>, assigns the next
/// <c>seq</c> and (3) delivers the frame, written once, to every connection of every online member on every node
/// through <see cref="RelayLocalDelivery"/>.
/// </summary>
/// <remarks>Thread-safe and stateless: ordering is the stream owner's job.</remarks>
internal sealed class MessageRouter
{
    private readonly IGroupDirectory _directory;
    private readonly IRelayBackplane _backplane;
    private readonly RelayMetrics _metrics;
    private readonly MessageObservers _observers;

    public MessageRouter(IGroupDirectory directory, IRelayBackplane backplane, MessageObservers observers, RelayMetrics metrics)
    {
        _directory = directory;
        _backplane = backplane;
        _observers = observers;
        _metrics = metrics;
    }

    /// <summary>Step 1: whether <paramref name="userId"/> may send to (or read) <paramref name="groupId"/>.</summary>
    public ValueTask<bool> IsMemberAsync(string groupId, string userId, CancellationToken cancellationToken)
        => _directory.IsMemberAsync(groupId, userId, cancellationToken);

    /// <summary>The online members of a group, on every node (the <c>members</c> request).</summary>
    public ValueTask<IReadOnlyList<string>> GetMembersAsync(string groupId, CancellationToken cancellationToken)
        => _directory.GetMembersAsync(groupId, cancellationToken);

    /// <summary><c>history</c>: the stream owner's retained messages of a group (membership checked by the caller).</summary>
    public ValueTask<HistoryPage> ReadHistoryAsync(string groupId, long after, string? epoch, int limit, CancellationToken cancellationToken)
        => _backplane.ReadHistoryAsync(groupId, after, epoch, limit, cancellationToken);

    /// <summary>
    /// Steps 2 and 3 for a message whose sender was checked (or that the server publishes): the stream owner takes the
    /// message's place in the group's order before this first awaits, so a caller may start the next one before this
    /// one completes.
    /// </summary>
    public ValueTask<PublishOutcome> PublishAsync(string groupId, string from, ReadOnlyMemory<byte> body, bool bodyIsCompact, RelayConnection? sender, bool echo, string? idempotencyKey, CancellationToken cancellationToken)
    {
        _metrics.MessagePublished();
        ValueTask<PublishOutcome> publishing = _backplane.PublishMessageAsync(groupId, from, body, bodyIsCompact, sender, echo, idempotencyKey, cancellationToken);
        if (!_observers.Any)
        {
            return publishing;
        }

        // The observers get a copy taken now: the caller's buffer holds the next frame once this returns.
        var accepted = new AcceptedMessage(groupId, from, 0, CompactCopy(body, bodyIsCompact), sender?.ConnectionId, idempotencyKey);
        if (publishing.IsCompletedSuccessfully)
        {
            Observe(publishing.Result, accepted);
            return publishing;
        }

        return ObserveWhenPublishedAsync(publishing, accepted);
    }

    private async ValueTask<PublishOutcome> ObserveWhenPublishedAsync(ValueTask<PublishOutcome> publishing, AcceptedMessage accepted)
    {
        PublishOutcome outcome = await publishing.ConfigureAwait(false);
        Observe(outcome, accepted);
        return outcome;
    }

    // Only a message this call put into the stream: not a repeated idempotency key, not a refused one.
    private void Observe(PublishOutcome outcome, AcceptedMessage accepted)
    {
        if (!outcome.Duplicate && !outcome.Unavailable && outcome.ConflictingGroup is null)
        {
            _observers.Accepted(accepted with { Seq = outcome.Seq });
        }
    }

    private static byte[] CompactCopy(ReadOnlyMemory<byte> body, bool bodyIsCompact)
    {
        if (bodyIsCompact)
        {
            return body.ToArray();
        }

        byte[] compact = new byte[JsonCompactor.CompactLength(body.Span)];
        JsonCompactor.Compact(body.Span, compact);
        return compact;
    }
}
