using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Threading;
using System.Threading.Tasks;
using GroupRelay.ScaleOut;
using Microsoft.Extensions.Logging;

namespace GroupRelay.Internal;

/// <summary>
/// The default <see cref="IRelayBackplane"/>: one process is the whole relay, and this is the owner of every group's
/// stream in it (PROTOCOL.md section 3, "Streams and epochs"): it alone assigns a group's <c>seq</c>, writes each
/// message's frame once, retains it for <c>history</c> (<see cref="RetainedMessages"/>), remembers idempotency keys
/// (<see cref="IdempotencyKeys"/>) and delivers through <see cref="RelayLocalDelivery"/>, exactly as the Redis backplane
/// does on each of its nodes. Each stream has an epoch of its own, new whenever the stream is created, so when a
/// group's state is dropped (no online member and nothing retained: such a group holds no state at all) its numbering
/// can restart without ever naming two messages with one seq.
/// </summary>
/// <remarks>
/// Thread-safety in one sentence: each stream has a gate that spans "next seq, retain, queue to every connection", so
/// the frames of one group enter every connection's FIFO queue in seq order while different groups route in parallel;
/// the gate is a <see cref="SemaphoreSlim"/> rather than a lock because its waiters are served first come, first
/// served, so a message that must wait (an <see cref="IGroupDirectory"/> that answers asynchronously) keeps the place its
/// sender gave it, as the pipelining contract of <see cref="IRelayBackplane"/> asks.
/// </remarks>
internal sealed class InProcessRelayBackplane : IRelayBackplane, IDisposable
{
    /// <summary>How long a stream stays after it was last used, even when it could be dropped (see <see cref="Sweep"/>).</summary>
    internal static readonly TimeSpan DropGrace = TimeSpan.FromSeconds(30);

    private readonly ConcurrentDictionary<string, GroupStream> _streams = new(StringComparer.Ordinal);
    private readonly RelayLocalDelivery _local;
    private readonly IGroupDirectory _directory;
    private readonly RetainedMessages _retained;
    private readonly IdempotencyKeys _keys;
    private readonly TimeProvider _clock;
    private readonly ILogger _logger;
    private readonly ITimer _sweeper;

    public InProcessRelayBackplane(RelayLocalDelivery local, IGroupDirectory directory, RetainedMessages retained, IdempotencyKeys keys, TimeProvider clock, ILogger logger)
    {
        _local = local;
        _directory = directory;
        _retained = retained;
        _keys = keys;
        _clock = clock;
        _logger = logger;
        _sweeper = clock.CreateTimer(static state => ((InProcessRelayBackplane)state!).Sweep(), this, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(10));
    }

    public ValueTask<PublishOutcome> PublishMessageAsync(string groupId, string from, ReadOnlyMemory<byte> body, bool bodyIsCompact, RelayConnection? sender, bool echo, string? idempotencyKey, CancellationToken cancellationToken = default)
    {
        string? skip = echo ? null : sender?.ConnectionId;
        if (idempotencyKey is null)
        {
            ValueTask<long> appended = AppendAsync(groupId, from, body, bodyIsCompact, skip, cancellationToken);
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

        ValueTask<long> publishing = AppendAsync(groupId, from, body, bodyIsCompact, skip, cancellationToken);
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
            positions[i] = await GetPositionAsync(groupIds[i]).ConfigureAwait(false);
        }

        return positions;
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
    public async Task<bool> ChangeMembershipAsync(string userId, string groupId, bool add, CancellationToken cancellationToken = default)
    {
        StreamPosition position = await GetPositionAsync(groupId).ConfigureAwait(false);
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

    /// <summary>Groups that hold stream state (for tests and memory measurements).</summary>
    public int StreamCount => _streams.Count;

    /// <summary>Appends a message to the group's stream in call order and delivers it here; completes with its seq.</summary>
    private ValueTask<long> AppendAsync(string groupId, string from, ReadOnlyMemory<byte> body, bool bodyIsCompact, string? skip, CancellationToken cancellationToken)
    {
        GroupStream stream = Enter(groupId, out Task? turn);
        if (turn is not null)
        {
            // Another message of the group is being appended: this one queued behind it, in call order. The body is
            // copied because the caller's buffer holds the next frame once this returns.
            return new ValueTask<long>(AppendInTurnAsync(stream, turn, groupId, from, body.ToArray(), bodyIsCompact, skip));
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

    /// <summary>The stream's current position; starts a stream (new epoch, seq 0) for a group that has none.</summary>
    private async ValueTask<StreamPosition> GetPositionAsync(string groupId)
    {
        GroupStream stream = await EnterAsync(groupId).ConfigureAwait(false);
        try
        {
            stream.Touch(_clock);
            return stream.Position;
        }
        finally
        {
            stream.Gate.Release();
        }
    }

    /// <summary><c>history</c> (PROTOCOL.md section 3): the retained frames after <paramref name="after"/> in the current epoch.</summary>
    public async ValueTask<HistoryPage> ReadHistoryAsync(string groupId, long after, string? epoch, int limit, CancellationToken cancellationToken = default)
    {
        StreamPosition position = await GetPositionAsync(groupId).ConfigureAwait(false);
        if (epoch is not null && !string.Equals(epoch, position.Epoch, StringComparison.Ordinal))
        {
            return new HistoryPage(Array.Empty<ReadOnlyMemory<byte>>(), position, Complete: false);
        }

        if (after >= position.Seq)
        {
            return new HistoryPage(Array.Empty<ReadOnlyMemory<byte>>(), position, Complete: true);
        }

        GroupStream stream = _streams.GetValueOrDefault(groupId) ?? throw new InvalidOperationException("the stream was dropped while it had a member");
        (List<ReadOnlyMemory<byte>> frames, long? oldest, long lastReplayed) = _retained.Read(stream.Retained, after, limit);

        // A message appended while this read is retained before the stream's seq moves, so the page may end past the
        // position read above: report the later one.
        long current = Math.Max(position.Seq, lastReplayed);
        bool gapAtStart = oldest is not long first || first > after + 1;
        bool cut = lastReplayed < current;
        return new HistoryPage(frames, position with { Seq = current }, Complete: !gapAtStart && !cut);
    }

    public void Dispose() => _sweeper.Dispose();

    /// <summary>
    /// Takes the group's stream and its gate: at once (<paramref name="turn"/> null), or in line behind the appends
    /// under way (wait for <paramref name="turn"/>); a stream dropped meanwhile is replaced by a fresh one.
    /// </summary>
    private GroupStream Enter(string groupId, out Task? turn)
    {
        while (true)
        {
            GroupStream stream = _streams.GetOrAdd(groupId, static (_, clock) => new GroupStream(clock), _clock);
            if (!stream.Gate.Wait(0, CancellationToken.None))
            {
                // Queued now, in call order. Should the sweep hold this gate and drop the stream, the waiter finds it
                // dropped when its turn comes and moves on to a fresh stream (InTurnAsync).
                turn = stream.Gate.WaitAsync(CancellationToken.None);
                return stream;
            }

            if (!stream.Dropped)
            {
                turn = null;
                return stream;
            }

            stream.Gate.Release();
        }
    }

    private ValueTask<GroupStream> EnterAsync(string groupId)
    {
        GroupStream stream = Enter(groupId, out Task? turn);
        return turn is null ? new ValueTask<GroupStream>(stream) : InTurnAsync(stream, turn, groupId);
    }

    /// <summary>Waits for the turn on a stream's gate; when the sweep dropped that stream meanwhile, takes a fresh one.</summary>
    private async ValueTask<GroupStream> InTurnAsync(GroupStream stream, Task turn, string groupId)
    {
        while (true)
        {
            await turn.ConfigureAwait(false);
            if (!stream.Dropped)
            {
                return stream;
            }

            stream.Gate.Release();
            stream = Enter(groupId, out Task? next);
            if (next is null)
            {
                return stream;
            }

            turn = next;
        }
    }

    /// <summary>Takes the group's next seq, retains and delivers the frame under it; the caller holds the stream's gate.</summary>
    private long Append(GroupStream stream, string groupId, string from, IReadOnlyList<string> members, ReadOnlySpan<byte> body, bool bodyIsCompact, string? skip)
    {
        long started = Stopwatch.GetTimestamp();
        long seq = stream.LastSeq + 1;
        byte[] frame = FrameWriter.Message(groupId, from, seq, _local.GetTimestamp(), body, bodyIsCompact);

        // Retained before the seq is published, so a history read never reports a position it cannot replay.
        _retained.Append(stream.Retained, seq, frame);
        Volatile.Write(ref stream.LastSeq, seq);
        stream.Touch(_clock);
        _local.DeliverMessageFrame(members, groupId, seq, frame, skip, started);
        return seq;
    }

    private async Task<long> AppendInTurnAsync(GroupStream stream, Task turn, string groupId, string from, byte[] body, bool bodyIsCompact, string? skip)
    {
        stream = await InTurnAsync(stream, turn, groupId).ConfigureAwait(false);
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

    /// <summary>
    /// Drops the streams of groups with no online member and nothing retained, so a dead group costs nothing. A stream
    /// is kept while its gate is busy and for <see cref="DropGrace"/> after it was last used: a connecting member reads
    /// the position before it is in the group index, and the grace keeps that position's epoch alive until it is.
    /// </summary>
    internal void Sweep()
    {
        foreach (KeyValuePair<string, GroupStream> pair in _streams)
        {
            GroupStream stream = pair.Value;
            if (_clock.GetElapsedTime(Volatile.Read(ref stream.LastUsed)) < DropGrace || !_retained.Trim(stream.Retained))
            {
                continue;
            }

            ValueTask<IReadOnlyList<string>> members = _directory.GetMembersAsync(pair.Key);
            if (!members.IsCompletedSuccessfully || members.Result.Count > 0 || !stream.Gate.Wait(0, CancellationToken.None))
            {
                continue;
            }

            // Under the gate nobody appends; a message that arrives now waits on the gate, finds the stream dropped and
            // takes a fresh one (InTurnAsync).
            if (_retained.Trim(stream.Retained) && _clock.GetElapsedTime(Volatile.Read(ref stream.LastUsed)) >= DropGrace)
            {
                stream.Dropped = true;
                _streams.TryRemove(pair);
            }

            stream.Gate.Release();
        }
    }

    /// <summary>One group's stream: its epoch, last seq, retained messages, and the gate that orders its appends.</summary>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "The gate is never waited on with a timeout or a cancellable token, so it never allocates the wait handle that Dispose would free.")]
    private sealed class GroupStream(TimeProvider clock)
    {
        public readonly SemaphoreSlim Gate = new(1, 1);

        /// <summary>New for every stream: a group's numbering restarts only with a new stream, so with a new epoch.</summary>
        public readonly string Epoch = Convert.ToHexString(RandomNumberGenerator.GetBytes(6));

        public readonly RetainedMessages.Retention Retained = new();

        /// <summary>Written under <see cref="Gate"/>, read without it (volatile).</summary>
        public long LastSeq;

        /// <summary>When the stream was last read or appended to (<see cref="TimeProvider.GetTimestamp"/>).</summary>
        public long LastUsed = clock.GetTimestamp();

        /// <summary>Set (under the gate) when the sweep removed the stream from the map.</summary>
        public volatile bool Dropped;

        public StreamPosition Position => new(Epoch, Volatile.Read(ref LastSeq));

        public void Touch(TimeProvider clock) => Volatile.Write(ref LastUsed, clock.GetTimestamp());
    }
}
