using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using GroupRelay.ScaleOut;
using Microsoft.Extensions.Logging;

namespace GroupRelay.Internal;

/// <summary>
/// Delivery on this node of what Redis carries (or what the node sequences itself while Redis is away): each group's
/// messages in strictly increasing seq within an epoch through <see cref="RelayLocalDelivery"/>, to the members this
/// node holds, and a <c>reset</c> to them when the group's epoch changes, before the new epoch's first message.
/// </summary>
/// <remarks>
/// Thread-safety in one sentence: each group has one <see cref="GroupSequence"/> whose lock spans "check the epoch, check
/// or take the seq, queue to every local connection", so a group's frames (a reset included) enter every connection's
/// queue in stream order whether they come from the subscription or from the local fallback; queuing never blocks, so
/// the lock is short.
/// </remarks>
internal sealed class NodeDelivery
{
    private readonly ConcurrentDictionary<string, GroupSequence> _sequences = new(StringComparer.Ordinal);
    private readonly RelayLocalDelivery _local;
    private readonly InMemoryGroupDirectory _directory;
    private readonly RedisRelayMetrics _metrics;
    private readonly ILogger _logger;

    public NodeDelivery(RelayLocalDelivery local, InMemoryGroupDirectory directory, RedisRelayMetrics metrics, ILogger logger)
    {
        _local = local;
        _directory = directory;
        _metrics = metrics;
        _logger = logger;
    }

    public bool SendJoinLeaveEvents => _local.Options.SendJoinLeaveEvents;

    /// <summary>How long Redis keeps a send's idempotency key (<see cref="GroupRelayOptions.IdempotencyWindow"/>).</summary>
    public TimeSpan IdempotencyWindow => _local.Options.IdempotencyWindow;

    public long GetTimestamp() => _local.GetTimestamp();

    /// <summary>Messages each group's Redis Stream retains (<see cref="GroupRelayOptions.HistoryMessagesPerGroup"/>; 0: none).</summary>
    public int HistoryMessagesPerGroup => _local.Options.HistoryMessagesPerGroup;

    /// <summary>How long a retained message is replayed (<see cref="GroupRelayOptions.HistoryMaxAge"/>).</summary>
    public TimeSpan HistoryMaxAge => _local.Options.HistoryMaxAge;

    /// <summary>A retained message's frame, byte for byte the one <see cref="DeliverInOrder"/> queued for it.</summary>
    public static byte[] WriteMessageFrame(string groupId, string from, long seq, long timestamp, ReadOnlySpan<byte> body, bool compact)
        => RelayLocalDelivery.WriteMessageFrame(groupId, from, seq, timestamp, body, compact);

    /// <summary>The group's sequence on this node (created on first use, kept for the node's life).</summary>
    public GroupSequence Sequence(string groupId) => _sequences.GetOrAdd(groupId, static _ => new GroupSequence());

    /// <summary>The epoch and last seq this node delivered, per group that has an epoch here (for the resync's floors).</summary>
    public List<(string Group, StreamPosition Position)> Positions()
    {
        var positions = new List<(string, StreamPosition)>();
        foreach ((string group, GroupSequence sequence) in _sequences)
        {
            lock (sequence)
            {
                if (sequence.Epoch is string epoch)
                {
                    positions.Add((group, new StreamPosition(epoch, sequence.LastSeq)));
                }
            }
        }

        return positions;
    }

    /// <summary>The epoch and last seq this node delivered for the group, or null when it knows no epoch of it.</summary>
    public StreamPosition? Delivered(string groupId)
    {
        GroupSequence sequence = Sequence(groupId);
        lock (sequence)
        {
            return sequence.Epoch is string epoch ? new StreamPosition(epoch, sequence.LastSeq) : null;
        }
    }

    /// <summary>
    /// A message from Redis: first a <c>reset</c> to the local members when its epoch is not the one this node knew (the
    /// numbering restarts), then delivered here unless its seq is not above the last one delivered in the epoch (then
    /// dropped and counted).
    /// </summary>
    public void DeliverInOrder(string groupId, GroupSequence sequence, string epoch, long seq, string from, long timestamp, ReadOnlySpan<byte> body, bool compact, string? skip)
    {
        lock (sequence)
        {
            if (!string.Equals(sequence.Epoch, epoch, StringComparison.Ordinal))
            {
                EnterEpoch(groupId, sequence, epoch);
            }

            if (seq <= sequence.LastSeq)
            {
                _metrics.OutOfOrder();
                RedisRelayLog.OutOfOrderDropped(_logger, seq, sequence.LastSeq);
                return;
            }

            Volatile.Write(ref sequence.LastSeqField, seq);
            _local.DeliverMessage(_directory.GetMembers(groupId), groupId, from, seq, timestamp, body, compact, skip);
        }
    }

    /// <summary>
    /// Redis is away: takes the next seq on this node (continuing from the last it saw, in the epoch it knows, or in a
    /// node-local epoch when it knows none) and delivers here only.
    /// </summary>
    public long DeliverNext(string groupId, OutgoingMessage message, ReadOnlySpan<byte> body)
    {
        GroupSequence sequence = Sequence(groupId);
        lock (sequence)
        {
            sequence.Epoch ??= StreamEpochs.NewCandidate();
            long seq = sequence.LastSeq + 1;
            Volatile.Write(ref sequence.LastSeqField, seq);
            _local.DeliverMessage(_directory.GetMembers(groupId), groupId, message.From, seq, message.Timestamp, body, message.Compact, message.Skip);
            return seq;
        }
    }

    /// <summary>
    /// A position read from Redis (for <c>welcome</c> or <c>added</c>): a group this node knows no epoch of yet takes it,
    /// so a later change of epoch is noticed and reset. A known epoch is left alone: only the group's channel, in
    /// publication order, moves it (a position read may race a batch of the previous epoch still on its way here).
    /// </summary>
    public void Observe(string groupId, StreamPosition position)
    {
        GroupSequence sequence = Sequence(groupId);
        lock (sequence)
        {
            sequence.Epoch ??= position.Epoch;
        }
    }

    /// <summary>
    /// Redis is away: the group's position as this node knows it (the epoch and last seq it delivered); a group it knows
    /// nothing of gets a node-local epoch, reset once Redis's stream is seen.
    /// </summary>
    public StreamPosition KnownPosition(string groupId)
    {
        GroupSequence sequence = Sequence(groupId);
        lock (sequence)
        {
            sequence.Epoch ??= StreamEpochs.NewCandidate();
            return new StreamPosition(sequence.Epoch, sequence.LastSeq);
        }
    }

    public void DeliverMemberEvent(string groupId, string userId, bool joined)
        => _local.DeliverMemberEvent(_directory.GetMembers(groupId), groupId, userId, joined);

    public void DeliverPresence(string userId, bool online, string? status) => _local.DeliverPresence(userId, online, status);

    public bool HasLocalConnections(string userId) => _local.HasLocalConnections(userId);

    public Task<bool> ApplyMembershipChangeAsync(string userId, string groupId, bool add, StreamPosition position, CancellationToken cancellationToken = default)
    {
        if (add)
        {
            Observe(groupId, position);
        }

        return _local.ApplyMembershipChangeAsync(userId, groupId, add, position, cancellationToken);
    }

    /// <summary>The group's stream restarted under <paramref name="epoch"/>: reset the local members (if they knew another epoch) and the numbering.</summary>
    private void EnterEpoch(string groupId, GroupSequence sequence, string epoch)
    {
        string? previous = sequence.Epoch;
        sequence.Epoch = epoch;
        Volatile.Write(ref sequence.LastSeqField, 0);
        if (previous is not null)
        {
            int connections = _local.DeliverReset(_directory.GetMembers(groupId), groupId, new StreamPosition(epoch, 0));
            _metrics.StreamReset();
            RedisRelayLog.StreamReset(_logger, previous, epoch, connections);
        }
    }

    /// <summary>One group's stream as this node delivered it: the epoch and last seq; its monitor orders deliveries (see <see cref="NodeDelivery"/>).</summary>
    internal sealed class GroupSequence
    {
        public long LastSeqField;

        /// <summary>The epoch this node delivered last, or null before it knows one; guarded by this object's monitor.</summary>
        public string? Epoch;

        /// <summary>Readable without the lock (the publish script's floor).</summary>
        public long LastSeq => Volatile.Read(ref LastSeqField);
    }
}
