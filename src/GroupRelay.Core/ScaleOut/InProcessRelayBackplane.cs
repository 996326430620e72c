using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Security.Cryptography;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;

namespace GroupRelay.Internal;

/// <summary>
/// The default <see cref="ScaleOut.IRelayBackplane"/>: one process is the whole relay. It is the owner of every group's
/// stream in this process (it alone assigns <c>seq</c>) and delivers through <see cref="ScaleOut.RelayLocalDelivery"/>,
/// exactly as the Redis backplane does on each of its nodes.
/// </summary>
/// <remarks>
/// Thread-safety in one sentence: each group's stream has a gate that spans "take the next seq, queue to every
/// connection", so the frames of one group enter every connection's FIFO queue in seq order while different groups
/// route in parallel; queuing never blocks, so the gate is held for microseconds. The gate is a
/// <see cref="SemaphoreSlim"/> rather than a lock because its waiters are served first come, first served: a message
/// that must wait (an <see cref="IGroupDirectory"/> that answers asynchronously) keeps its place in the order its
/// sender sent it, as the pipelining contract asks.
/// </remarks>
internal sealed class InProcessRelayBackplane : ScaleOut.IRelayBackplane
{
    private readonly ConcurrentDictionary<string, GroupStream> _streams = new(StringComparer.Ordinal);
    private readonly ScaleOut.RelayLocalDelivery _local;
    private readonly IGroupDirectory _directory;
    private readonly IdempotencyKeys _keys;
    private readonly ILogger _logger;

    public InProcessRelayBackplane(ScaleOut.RelayLocalDelivery local, IGroupDirectory directory, IdempotencyKeys keys, ILogger logger)
    {
        _local = local;
        _directory = directory;
        _keys = keys;
        _logger = logger;
    }

    public ValueTask<ScaleOut.PublishOutcome> PublishMessageAsync(string groupId, string from, ReadOnlyMemory<byte> body, bool bodyIsCompact, RelayConnection? sender, bool echo, string? idempotencyKey, CancellationToken cancellationToken = default)
    {
        if (idempotencyKey is null)
        {
            ValueTask<long> published = PublishAsync(groupId, from, body, bodyIsCompact, echo ? null : sender?.ConnectionId, cancellationToken);
            return published.IsCompletedSuccessfully ? new(new ScaleOut.PublishOutcome(published.Result)) : AsOutcomeAsync(published);
        }

        IdempotencyKeys.Reservation reservation = _keys.Reserve(from, idempotencyKey, groupId);
        if (reservation.ConflictingGroup is string other)
        {
            return new(new ScaleOut.PublishOutcome(0, ConflictingGroup: other));
        }

        if (!reservation.IsNew)
        {
            return DuplicateAsync(reservation.FirstSeq!);
        }

        ValueTask<long> publishing = PublishAsync(groupId, from, body, bodyIsCompact, echo ? null : sender?.ConnectionId, cancellationToken);
        if (publishing.IsCompletedSuccessfully)
        {
            long seq = publishing.Result;
            reservation.Complete(seq);
            return new(new ScaleOut.PublishOutcome(seq));
        }

        return RecordWhenPublishedAsync(publishing, reservation);
    }

    public ValueTask<IReadOnlyList<ScaleOut.StreamPosition>> GetPositionsAsync(IReadOnlyList<string> groupIds, CancellationToken cancellationToken = default)
    {
        var positions = new ScaleOut.StreamPosition[groupIds.Count];
        for (int i = 0; i < positions.Length; i++)
        {
            GroupStream stream = Stream(groupIds[i]);
            positions[i] = new ScaleOut.StreamPosition(stream.Epoch, Volatile.Read(ref stream.LastSeq));
        }

        return new ValueTask<IReadOnlyList<ScaleOut.StreamPosition>>(positions);
    }

    private GroupStream Stream(string groupId) => _streams.GetOrAdd(groupId, static _ => new GroupStream());

    private static async ValueTask<ScaleOut.PublishOutcome> AsOutcomeAsync(ValueTask<long> published) => new(await published.ConfigureAwait(false));

    private static async ValueTask<ScaleOut.PublishOutcome> DuplicateAsync(Task<long> firstSeq) => new(await firstSeq.ConfigureAwait(false), Duplicate: true);

    private static async ValueTask<ScaleOut.PublishOutcome> RecordWhenPublishedAsync(ValueTask<long> publishing, IdempotencyKeys.Reservation reservation)
    {
        try
        {
            long seq = await publishing.ConfigureAwait(false);
            reservation.Complete(seq);
            return new ScaleOut.PublishOutcome(seq);
        }
        catch (Exception ex)
        {
            reservation.Fail(ex);
            throw;
        }
    }

    /// <summary>Appends a message to the group's stream in call order (see the type's remarks) and delivers it here.</summary>
    private ValueTask<long> PublishAsync(string groupId, string from, ReadOnlyMemory<byte> body, bool bodyIsCompact, string? skip, CancellationToken cancellationToken)
    {
        GroupStream stream = Stream(groupId);
        if (!stream.Gate.Wait(0, CancellationToken.None))
        {
            // Another message of the group is being appended: queue behind it now, in call order. The body is copied
            // because the caller's buffer holds the next frame once this returns.
            return new ValueTask<long>(AppendInTurnAsync(stream, stream.Gate.WaitAsync(CancellationToken.None), groupId, from, body.ToArray(), bodyIsCompact, skip));
        }

        bool release = true;
        try
        {
            ValueTask<IReadOnlyList<string>> members = _directory.GetMembersAsync(groupId, cancellationToken);
            if (members.IsCompletedSuccessfully)
            {
                return new ValueTask<long>(Append(stream, groupId, from, members.Result, body.Span, bodyIsCompact, skip));
            }

            // A directory that answers asynchronously: this message keeps the gate (and so its place) while it waits.
            release = false;
            return new ValueTask<long>(AppendWhenAnsweredAsync(stream, members, groupId, from, body.ToArray(), bodyIsCompact, skip));
        }
        finally
        {
            if (release)
            {
                stream.Gate.Release();
            }
        }
    }

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
    public Task<bool> ChangeMembershipAsync(string userId, string groupId, bool add, CancellationToken cancellationToken = default)
    {
        GroupStream stream = Stream(groupId);
        return _local.ApplyMembershipChangeAsync(userId, groupId, add, new ScaleOut.StreamPosition(stream.Epoch, Volatile.Read(ref stream.LastSeq)), cancellationToken);
    }

    /// <summary>Takes the group's next seq and delivers under it; the caller holds the stream's gate.</summary>
    private long Append(GroupStream stream, string groupId, string from, IReadOnlyList<string> members, ReadOnlySpan<byte> body, bool bodyIsCompact, string? skip)
    {
        long seq = stream.LastSeq + 1;
        Volatile.Write(ref stream.LastSeq, seq);
        _local.DeliverMessage(members, groupId, from, seq, _local.GetTimestamp(), body, bodyIsCompact, skip);
        return seq;
    }

    private async Task<long> AppendInTurnAsync(GroupStream stream, Task turn, string groupId, string from, byte[] body, bool bodyIsCompact, string? skip)
    {
        await turn.ConfigureAwait(false);
        try
        {
            IReadOnlyList<string> members = await _directory.GetMembersAsync(groupId).ConfigureAwait(false);
            return Append(stream, groupId, from, members, body, bodyIsCompact, skip);
        }
        finally
        {
            stream.Gate.Release();
        }
    }

    private async Task<long> AppendWhenAnsweredAsync(GroupStream stream, ValueTask<IReadOnlyList<string>> members, string groupId, string from, byte[] body, bool bodyIsCompact, string? skip)
    {
        try
        {
            return Append(stream, groupId, from, await members.ConfigureAwait(false), body, bodyIsCompact, skip);
        }
        finally
        {
            stream.Gate.Release();
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

    /// <summary>One group's stream in this process: its epoch, its last seq, and the gate that orders its appends.</summary>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "The gate is never waited on with a timeout or a cancellable token, so it never allocates the wait handle that Dispose would free.")]
    private sealed class GroupStream
    {
        public readonly SemaphoreSlim Gate = new(1, 1);

        /// <summary>New for every stream: the numbering of a group restarts only with a new stream, so with a new epoch.</summary>
        public readonly string Epoch = Convert.ToHexString(RandomNumberGenerator.GetBytes(6));

        /// <summary>Written under <see cref="Gate"/>, read without it (volatile) for positions.</summary>
        public long LastSeq;
    }
}
