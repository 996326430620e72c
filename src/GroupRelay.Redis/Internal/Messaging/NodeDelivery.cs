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
/// the lock is short. Every use takes the sequence through <see cref="Enter"/>, which never hands out one that
/// <see cref="Sweep"/> dropped (the sweep marks it under the same lock), so a group never has two live sequences.
/// </remarks>
internal sealed class NodeDelivery
{
    private readonly ConcurrentDictionary<string, GroupSequence> _sequences = new(StringComparer.Ordinal);
    private readonly RelayLocalDelivery _local;
    private readonly InMemoryGroupDirectory _directory;
    private readonly RedisRelayMetrics _metrics;
    private readonly ILogger _logger;

    public NodeDelivery(RelayLocalDelivery local, InMemoryGroupDirectory directory, RedisRelayMetrics metrics, TimeProvider clock, ILogger logger)
    {
        _local = local;
        _directory = directory;
        _metrics = metrics;
        Clock = clock;
        _logger = logger;
    }

    /// <summary>The relay's clock (<see cref="TimeProvider"/> from DI, as Core's): the dead-group sweep's grace is measured on it.</summary>
    public TimeProvider Clock { get; }

    /// <summary>The groups this node keeps a sequence for (for tests and the dead-group measurement).</summary>
    internal int SequenceCount => _sequences.Count;

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

    /// <summary>
    /// The group's sequence on this node (created on first use, dropped by <see cref="Sweep"/> once the group is dead
    /// here), <b>entered</b>: the caller holds its lock and releases it with <see cref="Monitor.Exit"/>. Marks it used.
    /// </summary>
    public GroupSequence Enter(string groupId)
    {
        while (true)
        {
            GroupSequence sequence = _sequences.GetOrAdd(groupId, static (_, clock) => new GroupSequence(clock.GetTimestamp()), Clock);
            Monitor.Enter(sequence);
            if (!sequence.Dropped)
            {
                Volatile.Write(ref sequence.LastUsed, Clock.GetTimestamp());
                return sequence;
            }

            Monitor.Exit(sequence);
        }
    }

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
    /// Drops the sequences of groups that are dead on this node: no local member, not subscribed
    /// (<paramref name="isSubscribed"/>), no catch-up under way, and not used for <paramref name="grace"/> (a connecting
    /// member reads its position, which this node observes, before it is in the group index: the grace keeps what it
    /// observed until it is). A group that comes back starts as one this node never knew: its fresh subscription is
    /// unanchored and its epoch is taken from the next position read or batch, as for any first member.
    /// </summary>
    internal void Sweep(TimeSpan grace, Func<string, bool> isSubscribed)
    {
        foreach (KeyValuePair<string, GroupSequence> pair in _sequences)
        {
            GroupSequence sequence = pair.Value;
            if (Clock.GetElapsedTime(Volatile.Read(ref sequence.LastUsed)) < grace || _directory.GetMembers(pair.Key).Count > 0 || isSubscribed(pair.Key))
            {
                continue;
            }

            lock (sequence)
            {
                if (sequence.Held is null && !sequence.Dropped && Clock.GetElapsedTime(sequence.LastUsed) >= grace && _directory.GetMembers(pair.Key).Count == 0 && !isSubscribed(pair.Key))
                {
                    sequence.Dropped = true;
                    _sequences.TryRemove(pair);
                }
            }
        }
    }

    /// <summary>
    /// The group's channel was subscribed afresh (its first local member): what this node delivered before says nothing
    /// about what the new members are owed, so gaps are looked for again only once a message was delivered.
    /// </summary>
    public void Unanchor(string groupId)
    {
        GroupSequence sequence = Enter(groupId);
        try
        {
            sequence.Anchored = false;
        }
        finally
        {
            Monitor.Exit(sequence);
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
        GroupSequence sequence = Enter(groupId);
        try
        {
            sequence.Epoch ??= position.Epoch;
        }
        finally
        {
            Monitor.Exit(sequence);
        }
    }

    /// <summary>
    /// Redis is away: the group's position as this node knows it (the epoch and last seq it delivered); a group it knows
    /// nothing of gets a node-local epoch, reset once Redis's stream is seen.
    /// </summary>
    public StreamPosition KnownPosition(string groupId)
    {
        GroupSequence sequence = Enter(groupId);
        try
        {
            sequence.Epoch ??= StreamEpochs.NewCandidate();
            return new StreamPosition(sequence.Epoch, sequence.LastSeq);
        }
        finally
        {
            Monitor.Exit(sequence);
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
    internal sealed class GroupSequence(long now)
    {
        public long LastSeqField;

        /// <summary>When the sequence was last entered (<see cref="TimeProvider.GetTimestamp"/>); written under the lock, read without it too.</summary>
        public long LastUsed = now;

        /// <summary>Set under the lock when the sweep removed the sequence: <see cref="Enter"/> then takes a fresh one.</summary>
        public bool Dropped;

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
