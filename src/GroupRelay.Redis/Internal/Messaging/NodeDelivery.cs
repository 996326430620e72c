using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using GroupRelay.ScaleOut;
using Microsoft.Extensions.Logging;

namespace GroupRelay.Internal;

/// <summary>
/// Delivery on this node of what Redis carries (live on the group's channel, or read back from its stream after a gap):
/// each group's messages in strictly increasing seq within an epoch through <see cref="RelayLocalDelivery"/>, to the members this
/// node holds, and a <c>reset</c> to them when the group's epoch changes, before the new epoch's first message.
/// </summary>
/// <remarks>
/// Thread-safety in one sentence: each group has one <see cref="GroupSequence"/> whose lock spans "check the epoch, check
/// or take the seq, queue to every local connection", so a group's frames (a reset included) enter every connection's
/// queue in stream order whether they come from the subscription or from a catch-up read; queuing never blocks, so
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

    /// <summary>The groups this node holds a member of, with their sequences (what a caught-up subscription may have missed).</summary>
    public List<(string Group, GroupSequence Sequence)> HeldSequences()
    {
        var held = new List<(string, GroupSequence)>();
        foreach ((string group, GroupSequence sequence) in _sequences)
        {
            if (_directory.GetMembers(group).Count > 0)
            {
                held.Add((group, sequence));
            }
        }

        return held;
    }

    /// <summary>
    /// The group's channel was subscribed afresh (its first local member): what this node delivered before says nothing
    /// about what the new members are owed, so gaps are looked for again only once a message was delivered.
    /// </summary>
    public void Unanchor(string groupId)
    {
        GroupSequence sequence = Sequence(groupId);
        lock (sequence)
        {
            sequence.Anchored = false;
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
            sequence.Anchored = true;
            _local.DeliverMessage(_directory.GetMembers(groupId), groupId, from, seq, timestamp, body, compact, skip);
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

    /// <summary>
    /// The group's stream restarted under <paramref name="epoch"/>: reset the local members (if they knew another epoch)
    /// and the numbering. Call holding the sequence's lock; nothing happens when the epoch is the one known.
    /// </summary>
    public void EnterEpoch(string groupId, GroupSequence sequence, string epoch)
    {
        if (string.Equals(sequence.Epoch, epoch, StringComparison.Ordinal))
        {
            return;
        }

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

        /// <summary>
        /// Whether <see cref="LastSeq"/> is where this node's local members stand: set by a delivery, cleared when the
        /// channel is subscribed afresh. Only then is a batch beyond <c>LastSeq + 1</c> a gap to catch up.
        /// </summary>
        public bool Anchored;

        /// <summary>
        /// Batches held, in channel order, while a catch-up read of the group's stream is under way (null otherwise); see
        /// <see cref="GroupStreamCatchUp"/>.
        /// </summary>
        public Queue<byte[]>? Held;

        /// <summary>Readable without the lock.</summary>
        public long LastSeq => Volatile.Read(ref LastSeqField);
    }
}
