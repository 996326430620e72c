using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using GroupRelay.ScaleOut;
using Microsoft.Extensions.Logging;

namespace GroupRelay.Internal;

/// <summary>
/// The default <see cref="IRelayBackplane"/>: one process is the whole relay. Its group streams
/// (<see cref="InMemoryGroupStreams"/>: seq, epoch, retained messages) and idempotency keys
/// (<see cref="IdempotencyKeys"/>) live in this process, and it delivers through <see cref="RelayLocalDelivery"/>,
/// exactly as the Redis backplane does on each of its nodes.
/// </summary>
/// <remarks>Thread-safety in one sentence: stateless itself; its streams and keys are thread-safe.</remarks>
internal sealed class InProcessRelayBackplane : IRelayBackplane
{
    private readonly InMemoryGroupStreams _streams;
    private readonly RelayLocalDelivery _local;
    private readonly IGroupDirectory _directory;
    private readonly IdempotencyKeys _keys;
    private readonly ILogger _logger;

    public InProcessRelayBackplane(InMemoryGroupStreams streams, RelayLocalDelivery local, IGroupDirectory directory, IdempotencyKeys keys, ILogger logger)
    {
        _streams = streams;
        _local = local;
        _directory = directory;
        _keys = keys;
        _logger = logger;
    }

    public ValueTask<PublishOutcome> PublishMessageAsync(string groupId, string from, ReadOnlyMemory<byte> body, bool bodyIsCompact, RelayConnection? sender, bool echo, string? idempotencyKey, CancellationToken cancellationToken = default)
    {
        string? skip = echo ? null : sender?.ConnectionId;
        if (idempotencyKey is null)
        {
            ValueTask<long> appended = _streams.AppendAsync(groupId, from, body, bodyIsCompact, skip, cancellationToken);
            return appended.IsCompletedSuccessfully ? new(new PublishOutcome(appended.Result)) : AsOutcomeAsync(appended);
        }

        IdempotencyKeys.Reservation reservation = _keys.Reserve(from, idempotencyKey, groupId);
        if (reservation.ConflictingGroup is string other)
        {
            return new(new PublishOutcome(0, ConflictingGroup: other));
        }

        if (!reservation.IsNew)
        {
            return DuplicateAsync(reservation.FirstSeq!);
        }

        ValueTask<long> publishing = _streams.AppendAsync(groupId, from, body, bodyIsCompact, skip, cancellationToken);
        if (publishing.IsCompletedSuccessfully)
        {
            long seq = publishing.Result;
            reservation.Complete(seq);
            return new(new PublishOutcome(seq));
        }

        return RecordWhenPublishedAsync(publishing, reservation);
    }

    public async ValueTask<IReadOnlyList<StreamPosition>> GetPositionsAsync(IReadOnlyList<string> groupIds, CancellationToken cancellationToken = default)
    {
        var positions = new StreamPosition[groupIds.Count];
        for (int i = 0; i < positions.Length; i++)
        {
            positions[i] = await _streams.GetPositionAsync(groupIds[i]).ConfigureAwait(false);
        }

        return positions;
    }

    public ValueTask<HistoryPage> ReadHistoryAsync(string groupId, long after, string? epoch, int limit, CancellationToken cancellationToken = default)
        => _streams.ReadHistoryAsync(groupId, after, epoch, limit);

    public void PublishMemberEvent(string groupId, string userId, bool joined)
    {
        ValueTask<IReadOnlyList<string>> pending = _directory.GetMembersAsync(groupId);
        if (pending.IsCompletedSuccessfully)
        {
            _local.DeliverMemberEvent(pending.Result, groupId, userId, joined);
        }
        else
        {
            _ = DeliverMemberEventLaterAsync(pending, groupId, userId, joined);
        }
    }

    public void PublishPresence(string userId, bool online, string? status) => _local.DeliverPresence(userId, online, status);

    // In process this node is every node: applying the change here is applying it everywhere.
    public async Task<bool> ChangeMembershipAsync(string userId, string groupId, bool add, CancellationToken cancellationToken = default)
    {
        StreamPosition position = await _streams.GetPositionAsync(groupId).ConfigureAwait(false);
        return await _local.ApplyMembershipChangeAsync(userId, groupId, add, position, cancellationToken).ConfigureAwait(false);
    }

    private static async ValueTask<PublishOutcome> AsOutcomeAsync(ValueTask<long> appended) => new(await appended.ConfigureAwait(false));

    private static async ValueTask<PublishOutcome> DuplicateAsync(Task<long> firstSeq) => new(await firstSeq.ConfigureAwait(false), Duplicate: true);

    private static async ValueTask<PublishOutcome> RecordWhenPublishedAsync(ValueTask<long> publishing, IdempotencyKeys.Reservation reservation)
    {
        try
        {
            long seq = await publishing.ConfigureAwait(false);
            reservation.Complete(seq);
            return new PublishOutcome(seq);
        }
        catch (Exception ex)
        {
            reservation.Fail(ex);
            throw;
        }
    }

    private async Task DeliverMemberEventLaterAsync(ValueTask<IReadOnlyList<string>> pending, string groupId, string userId, bool joined)
    {
        try
        {
            _local.DeliverMemberEvent(await pending.ConfigureAwait(false), groupId, userId, joined);
        }
        catch (Exception ex)
        {
            GroupRelayLog.EventFailed(_logger, userId, ex);
        }
    }
}
