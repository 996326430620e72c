using System;
using System.Collections.Generic;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace GroupRelay.Internal;

/// <summary>
/// Delivers the batches of a group's channel on this node, and closes the gaps in them from the group's Redis Stream:
/// when a batch starts beyond the last seq delivered + 1 (in the same epoch, or from 1 in a new one), or when the
/// subscription connection dropped and came back (or the resync subscribed the group's channel again), the missing
/// range (the whole new epoch, when the stream started one meanwhile) is read with one script (XRANGE) and delivered, in
/// order, before the batches that arrived meanwhile (held until then). So every connection that stayed open gets every
/// message Redis numbered exactly once, in seq order, through a dropped or stalled subscription.
/// </summary>
/// <remarks>
/// Thread-safety in one sentence: everything about a group happens under its <see cref="NodeDelivery.GroupSequence"/>'s
/// lock (the channel's handler and the catch-up's completion take it in turn), and a group has at most one catch-up in
/// flight (<see cref="NodeDelivery.GroupSequence.Held"/> is non-null meanwhile); nothing polls: a catch-up starts on a
/// gap or on the subscription's ConnectionRestored, and a failed one is not retried (the gap stays, and clients close it
/// with <c>history</c>).
/// </remarks>
internal sealed class GroupStreamCatchUp
{
    /// <summary>Entries per catch-up read at most; a longer gap is read again from where it stopped.</summary>
    private const int MaxRead = 1000;

    private readonly RedisGuard _guard;
    private readonly RedisKeys _keys;
    private readonly NodeDelivery _delivery;
    private readonly EchoTracker _echoes;
    private readonly RedisRelayMetrics _metrics;
    private readonly ILogger _logger;

    // The node id as the payloads carry it: a node recognises its own messages without decoding a string per message.
    private readonly byte[] _nodeIdUtf8;

    public GroupStreamCatchUp(RedisGuard guard, RedisKeys keys, NodeDelivery delivery, EchoTracker echoes, RedisRelayMetrics metrics, ILogger logger)
    {
        _guard = guard;
        _keys = keys;
        _delivery = delivery;
        _echoes = echoes;
        _metrics = metrics;
        _logger = logger;
        _nodeIdUtf8 = Encoding.UTF8.GetBytes(keys.NodeId);
    }

    /// <summary>A batch from the group's channel: delivered now, or held behind a catch-up (one under way, or one it starts).</summary>
    public void OnBatch(string groupId, byte[] payload)
    {
        NodeDelivery.GroupSequence sequence = _delivery.Enter(groupId);
        try
        {
            if (sequence.Held is not null)
            {
                sequence.Held.Enqueue(payload);
                return;
            }

            DeliverOrHold(groupId, sequence, payload, lookForGaps: true);
        }
        finally
        {
            Monitor.Exit(sequence);
        }
    }

    /// <summary>The subscription connection came back: every group this node holds reads what it may have missed.</summary>
    public void CatchUpAll()
    {
        foreach ((string groupId, NodeDelivery.GroupSequence sequence) in _delivery.HeldSequences())
        {
            lock (sequence)
            {
                CatchUpToTheEnd(groupId, sequence);
            }
        }
    }

    /// <summary>
    /// The group's channel was subscribed again (after an outage, by the resync) and Redis has confirmed it: what was
    /// published before that confirmation and after the last seq delivered here is read from the stream now, so a
    /// message published while the node was not subscribed is not left waiting for the group's next message.
    /// </summary>
    public void CatchUp(string groupId)
    {
        NodeDelivery.GroupSequence sequence = _delivery.Enter(groupId);
        try
        {
            CatchUpToTheEnd(groupId, sequence);
        }
        finally
        {
            Monitor.Exit(sequence);
        }
    }

    /// <summary>Under the lock: starts reading everything after the last seq delivered, unless nothing was delivered yet or a catch-up is under way.</summary>
    private void CatchUpToTheEnd(string groupId, NodeDelivery.GroupSequence sequence)
    {
        if (!sequence.Dropped && sequence.Anchored && sequence.Epoch is string epoch && sequence.Held is null)
        {
            sequence.Held = new Queue<byte[]>();
            _ = CatchUpAsync(groupId, sequence, epoch, sequence.LastSeq, long.MaxValue);
        }
    }

    /// <summary>Under the sequence's lock: delivers the batch, or holds it and starts a catch-up of the gap before it.</summary>
    private void DeliverOrHold(string groupId, NodeDelivery.GroupSequence sequence, byte[] payload, bool lookForGaps)
    {
        ReadOnlySpan<byte> span = RedisPayload.ReadBatchHeader(payload, out string epoch, out long seq, out int count);
        if (lookForGaps && sequence.Anchored && sequence.Epoch is not null)
        {
            // A new epoch resets first (and numbers from 0): its messages before this batch are a gap like any other.
            _delivery.EnterEpoch(groupId, sequence, epoch);
            if (seq > sequence.LastSeq + 1)
            {
                sequence.Held = new Queue<byte[]>();
                sequence.Held.Enqueue(payload);
                _ = CatchUpAsync(groupId, sequence, epoch, sequence.LastSeq, seq - 1);
                return;
            }
        }

        _metrics.Received("message", count);
        for (int i = 0; i < count; i++, seq++)
        {
            Deliver(groupId, sequence, epoch, seq, RedisPayload.ReadBytes(ref span));
        }
    }

    /// <summary>Reads the stream after <paramref name="after"/> (up to <paramref name="upTo"/>), delivers it, then what was held; never throws.</summary>
    private async Task CatchUpAsync(string groupId, NodeDelivery.GroupSequence sequence, string epoch, long after, long upTo)
    {
        RedisRelayLog.CatchingUp(_logger, after, upTo);
        RedisResult[]? entries = null;
        try
        {
            var keys = new[] { _keys.Seq(groupId), _keys.Epoch(groupId), _keys.Stream(groupId) };
            long limit = Math.Min(upTo - after, MaxRead);
            var args = new RedisValue[] { StreamEpochs.NewCandidate(), _keys.StreamExpiryMilliseconds, after, limit, int.MaxValue, 0, epoch };
            (bool ok, RedisResult reply) = await _guard.TryWhenConnectedAsync(
                "catch_up",
                (Keys: keys, Args: args),
                static (mux, s) => mux.GetDatabase().ScriptEvaluateAsync(RedisScripts.ReadHistory, s.Keys, s.Args)).ConfigureAwait(false);
            entries = ok ? (RedisResult[])reply! : null;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            RedisRelayLog.ReceiveFailed(_logger, ex);
        }

        lock (sequence)
        {
            try
            {
                long read = DeliverEntries(groupId, sequence, epoch, upTo, entries);
                bool sameEpoch = string.Equals(sequence.Epoch, epoch, StringComparison.Ordinal);
                if (upTo == long.MaxValue && sameEpoch && entries is not null && (long)entries[2] == 0)
                {
                    // Reading to the end after the subscription came back, the stream is in another epoch (Redis lost its
                    // data meanwhile): its messages so far came while this node was not subscribed. Reset the local
                    // members to it, then read it from its start, still holding what the channel brings meanwhile.
                    string current = (string)entries[0]!;
                    _delivery.EnterEpoch(groupId, sequence, current);
                    _ = CatchUpAsync(groupId, sequence, current, 0, long.MaxValue);
                    return;
                }
                if (read == MaxRead && sameEpoch && sequence.LastSeq < upTo)
                {
                    // More than one read's worth: go on from where this one stopped, still holding what came meanwhile.
                    _ = CatchUpAsync(groupId, sequence, epoch, sequence.LastSeq, upTo);
                    return;
                }

                if (upTo != long.MaxValue && sequence.LastSeq < upTo && sameEpoch)
                {

                    // Not in the stream (trimmed, expired) or Redis did not answer: the gap stays; clients see it in seq.
                    _metrics.CaughtUp("missing", upTo - sequence.LastSeq);
                    RedisRelayLog.CatchUpMissing(_logger, sequence.LastSeq + 1, upTo);
                    Volatile.Write(ref sequence.LastSeqField, upTo);
                }

                Release(groupId, sequence, lookForGaps: entries is not null);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                RedisRelayLog.ReceiveFailed(_logger, ex);
                sequence.Held = null;
            }
        }
    }

    /// <summary>Under the lock: the entries read (seq, framed tail), those above the last seq delivered; returns how many were read.</summary>
    private long DeliverEntries(string groupId, NodeDelivery.GroupSequence sequence, string epoch, long upTo, RedisResult[]? entries)
    {
        // {epoch, seq, 1 when the epoch matched, then seq and tail per entry}; another epoch means the stream was lost:
        // its next batch brings the new epoch (and the reset).
        if (entries is null || (long)entries[2] == 0 || !string.Equals(sequence.Epoch, epoch, StringComparison.Ordinal))
        {
            return 0;
        }

        long read = 0, delivered = 0;
        for (int i = 3; i + 1 < entries.Length; i += 2, read++)
        {
            long seq = (long)entries[i];
            if (seq > upTo)
            {
                break;
            }

            if (seq > sequence.LastSeq)
            {
                ReadOnlySpan<byte> framed = (byte[])entries[i + 1]!;
                Deliver(groupId, sequence, epoch, seq, RedisPayload.ReadBytes(ref framed));
                delivered++;
            }
        }

        _metrics.CaughtUp("delivered", delivered);
        return read;
    }

    /// <summary>Under the lock: delivers the held batches in order, until one of them starts another catch-up.</summary>
    private void Release(string groupId, NodeDelivery.GroupSequence sequence, bool lookForGaps)
    {
        Queue<byte[]> held = sequence.Held!;
        sequence.Held = null;
        while (held.Count > 0)
        {
            DeliverOrHold(groupId, sequence, held.Dequeue(), lookForGaps);
            if (sequence.Held is not null)
            {
                // Another gap: what is left waits behind its catch-up, in order.
                while (held.Count > 0)
                {
                    sequence.Held.Enqueue(held.Dequeue());
                }

                return;
            }
        }
    }

    /// <summary>One message (live or read back): delivered here (after a reset when its epoch is new here) unless its seq was already seen; completes its sender's echo wait.</summary>
    private void Deliver(string groupId, NodeDelivery.GroupSequence sequence, string epoch, long seq, ReadOnlySpan<byte> tail)
    {
        ReadOnlySpan<byte> body = RedisPayload.ReadMessageTail(tail, out ReadOnlySpan<byte> origin, out long publishId, out ReadOnlySpan<byte> skipBytes, out string from, out long timestamp, out bool compact);
        bool mine = origin.SequenceEqual(_nodeIdUtf8);
        if (string.Equals(sequence.Epoch, epoch, StringComparison.Ordinal) && seq <= sequence.LastSeq && sequence.Anchored)
        {
            // Already delivered by a catch-up read (a batch that overlaps it): nothing to do but release an echo wait.
            if (mine)
            {
                _echoes.Complete(publishId);
            }

            return;
        }

        // Only the sender's node leaves a connection out (echo: false), so only it decodes the connection id.
        string? skip = mine && !skipBytes.IsEmpty ? Encoding.UTF8.GetString(skipBytes) : null;
        _delivery.DeliverInOrder(groupId, sequence, epoch, seq, from, timestamp, body, compact, skip);
        if (mine)
        {
            _echoes.Complete(publishId);
        }
    }
}
