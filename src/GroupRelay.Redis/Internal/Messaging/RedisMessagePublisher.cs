using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using StackExchange.Redis;

namespace GroupRelay.Internal;

/// <summary>
/// Publishes this node's group messages: one publish script per group in flight at a time (seq taken and message
/// PUBLISHed in one atomic step); what arrives meanwhile waits in call order and goes out together in the next script,
/// at most <see cref="MaxBatch"/> at a time. While Redis is away, a batch is sequenced and delivered on this node only.
/// </summary>
/// <remarks>
/// Thread-safety in one sentence: each group's queue has a lock held only to append a message or take a batch, and a
/// flag under it lets one flush loop per group run, so a group's messages leave in call order while many connections
/// publish concurrently and different groups flush in parallel.
/// </remarks>
internal sealed class RedisMessagePublisher
{
    /// <summary>
    /// Messages per publish script at most. Every node queues a whole batch to each local member's connection at once,
    /// so an unbounded batch (a backlog after a stall) would land on every connection in one go and overflow the
    /// 1,024-frame slow-consumer bound everywhere; 64 keeps a batch far below it and still amortises the round trip.
    /// </summary>
    internal const int MaxBatch = 64;

    private readonly ConcurrentDictionary<string, GroupQueue> _queues = new(StringComparer.Ordinal);
    private readonly RedisGuard _guard;
    private readonly GroupSubscriptions _subscriptions;
    private readonly EchoTracker _echoes;
    private readonly NodeDelivery _delivery;
    private readonly RedisKeys _keys;
    private readonly RedisRelayMetrics _metrics;
    private long _nextPublishId;

    public RedisMessagePublisher(RedisGuard guard, GroupSubscriptions subscriptions, EchoTracker echoes, NodeDelivery delivery, RedisKeys keys, RedisRelayMetrics metrics)
    {
        _guard = guard;
        _subscriptions = subscriptions;
        _echoes = echoes;
        _delivery = delivery;
        _keys = keys;
        _metrics = metrics;
    }

    public ValueTask<long> PublishAsync(string groupId, string from, ReadOnlyMemory<byte> body, bool bodyIsCompact, RelayConnection? sender, bool echo)
    {
        // The group's key and channel name are built once per group, not per message.
        GroupQueue queue = _queues.GetOrAdd(groupId, static (group, keys) => new GroupQueue(keys.Seq(group), (string)keys.GroupChannel(group)!), _keys);
        long timestamp = _delivery.GetTimestamp();
        string? skip = echo ? null : sender?.ConnectionId;
        long publishId = Interlocked.Increment(ref _nextPublishId);

        // The echo must reach the sender before its ack: then the message is done only once this node has delivered
        // it as well. The wait is bounded by the echo tracker's sweeper (EchoTimeout), not by a timer per message.
        bool waitForEcho = sender is not null && echo && _subscriptions.IsSubscribed(groupId) && _echoes.IsAccepting;

        // The body is read here, and never again: the relay pipelines sends (see IRelayBackplane), so the caller's
        // buffer holds the next frame once this returns.
        var pending = new PendingPublish(
            publishId,
            RedisPayload.MessageTail(_keys.NodeId, publishId, skip, from, timestamp, bodyIsCompact, body.Span),
            body.Length,
            new OutgoingMessage(from, timestamp, bodyIsCompact, skip),
            waitForEcho ? Environment.TickCount64 : null);
        if (waitForEcho)
        {
            _echoes.Track(pending);
        }

        // The message takes its place in the group's order here, under the lock, in call order.
        bool flush;
        lock (queue)
        {
            (queue.Waiting ??= new List<PendingPublish>()).Add(pending);
            flush = !queue.Flushing;
            queue.Flushing = true;
        }

        if (flush)
        {
            _ = FlushAsync(groupId, queue);
        }

        // One task for both waits (the seq from the script's reply, the echo from this node's delivery): the sender
        // resumes once per message, not once per wait.
        return new ValueTask<long>(pending.Done.Task);
    }

    /// <summary>Publishes what waits for a group, batch after batch, until nothing does; never throws.</summary>
    private async Task FlushAsync(string groupId, GroupQueue queue)
    {
        while (true)
        {
            List<PendingPublish> batch;
            lock (queue)
            {
                if (queue.Waiting is not { Count: > 0 })
                {
                    queue.Flushing = false;
                    return;
                }

                if (queue.Waiting.Count <= MaxBatch)
                {
                    batch = queue.Waiting;
                    queue.Waiting = null;
                }
                else
                {
                    batch = queue.Waiting.GetRange(0, MaxBatch);
                    queue.Waiting.RemoveRange(0, MaxBatch);
                }
            }

            await PublishBatchAsync(groupId, queue, batch).ConfigureAwait(false);
        }
    }

    private async Task PublishBatchAsync(string groupId, GroupQueue queue, List<PendingPublish> batch)
    {
        try
        {
            // The floor is the highest seq this node delivered: after Redis lost its counter, seq still goes up here.
            (bool ok, RedisResult reply) = await _guard.TryAsync(
                "publish",
                (queue, Floor: _delivery.Sequence(groupId).LastSeq, batch),
                static (mux, s) => mux.GetDatabase().ScriptEvaluateAsync(RedisScripts.PublishBatch, s.queue.SeqKeys, new RedisValue[] { s.queue.ChannelName, s.Floor, s.batch.Count, BatchPayload(s.batch) })).ConfigureAwait(false);
            if (ok)
            {
                long last = (long)reply;
                _metrics.Published("message", batch.Count);
                long first = last - batch.Count + 1;
                for (int i = 0; i < batch.Count; i++)
                {
                    batch[i].SeqKnown(first + i);
                }

                return;
            }

            // Redis is away: deliver here, in order, and release each sender's echo wait (the echo was just queued).
            foreach (PendingPublish message in batch)
            {
                long seq = _delivery.DeliverNext(groupId, message.Message, message.Body);
                _echoes.Complete(message.PublishId);
                message.SeqKnown(seq);
            }
        }
        catch (Exception ex)
        {
            foreach (PendingPublish message in batch)
            {
                _echoes.Forget(message.PublishId);
                message.Done.TrySetException(ex);
            }
        }
    }

    private static byte[] BatchPayload(List<PendingPublish> batch)
    {
        byte[][] tails = new byte[batch.Count][];
        for (int i = 0; i < tails.Length; i++)
        {
            tails[i] = batch[i].Tail;
        }

        return RedisPayload.Batch(tails);
    }

    /// <summary>One group's messages waiting for the next publish script, and the names the script needs.</summary>
    private sealed class GroupQueue(RedisKey seqKey, string channelName)
    {
        /// <summary>The seq counter's key, as the script's KEYS.</summary>
        public RedisKey[] SeqKeys { get; } = new[] { seqKey };

        public string ChannelName { get; } = channelName;

        /// <summary>Messages waiting, in call order; guarded by this object's monitor, as is <see cref="Flushing"/>.</summary>
        public List<PendingPublish>? Waiting;

        /// <summary>Whether a flush loop is running for this group (at most one).</summary>
        public bool Flushing;
    }
}
