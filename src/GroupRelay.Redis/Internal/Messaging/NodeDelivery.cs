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
/// messages in strictly increasing seq through <see cref="RelayLocalDelivery"/>, to the members this node holds.
/// </summary>
/// <remarks>
/// Thread-safety in one sentence: each group has one <see cref="GroupSequence"/> whose lock spans "check or take the
/// seq, queue to every local connection", so a group's frames enter every connection's queue in seq order whether they
/// come from the subscription or from the local fallback; queuing never blocks, so the lock is short.
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

    public long GetTimestamp() => _local.GetTimestamp();

    /// <summary>The group's sequence on this node (created on first use, kept for the node's life).</summary>
    public GroupSequence Sequence(string groupId) => _sequences.GetOrAdd(groupId, static _ => new GroupSequence());

    /// <summary>The last seq this node delivered, per group (for the resync to raise Redis's counters).</summary>
    public IEnumerable<KeyValuePair<string, long>> LastSeqs()
    {
        foreach ((string group, GroupSequence sequence) in _sequences)
        {
            yield return new KeyValuePair<string, long>(group, sequence.LastSeq);
        }
    }

    /// <summary>A message from Redis: delivered here unless its seq is not above the last one delivered (then dropped and counted).</summary>
    public void DeliverInOrder(string groupId, GroupSequence sequence, long seq, string from, long timestamp, ReadOnlySpan<byte> body, bool compact, string? skip)
    {
        lock (sequence)
        {
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

    /// <summary>Redis is away: takes the next seq on this node (continuing from the last it saw) and delivers here only.</summary>
    public long DeliverNext(string groupId, OutgoingMessage message, ReadOnlySpan<byte> body)
    {
        GroupSequence sequence = Sequence(groupId);
        lock (sequence)
        {
            long seq = sequence.LastSeq + 1;
            Volatile.Write(ref sequence.LastSeqField, seq);
            _local.DeliverMessage(_directory.GetMembers(groupId), groupId, message.From, seq, message.Timestamp, body, message.Compact, message.Skip);
            return seq;
        }
    }

    public void DeliverMemberEvent(string groupId, string userId, bool joined)
        => _local.DeliverMemberEvent(_directory.GetMembers(groupId), groupId, userId, joined);

    public void DeliverPresence(string userId, bool online, string? status) => _local.DeliverPresence(userId, online, status);

    public bool HasLocalConnections(string userId) => _local.HasLocalConnections(userId);

    public Task<bool> ApplyMembershipChangeAsync(string userId, string groupId, bool add, CancellationToken cancellationToken = default)
        => _local.ApplyMembershipChangeAsync(userId, groupId, add, new StreamPosition("scaffold", 0), cancellationToken); // SCAFFOLDING (branch streams only)

    /// <summary>One group's last delivered seq on this node; its monitor orders deliveries (see <see cref="NodeDelivery"/>).</summary>
    internal sealed class GroupSequence
    {
        public long LastSeqField;

        /// <summary>Readable without the lock (the publish script's floor, the resync).</summary>
        public long LastSeq => Volatile.Read(ref LastSeqField);
    }
}
