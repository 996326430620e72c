using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using GroupRelay.ScaleOut;
using StackExchange.Redis;

namespace GroupRelay.Internal;

/// <summary>
/// Publishes this node's group messages: one publish script per group in flight at a time (epoch checked, idempotency
/// keys checked and recorded, seqs taken, the published messages appended to the group's Redis Stream and PUBLISHed in one
/// atomic step); what arrives meanwhile
/// waits in call order and goes out together in the next script, at most <see cref="MaxBatch"/> at a time. While Redis
/// is away, a batch is refused (<see cref="PublishOutcome.Unavailable"/>): only Redis numbers a group's messages.
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

    public ValueTask<PublishOutcome> PublishAsync(string groupId, string from, ReadOnlyMemory<byte> body, bool bodyIsCompact, RelayConnection? sender, bool echo, string? idempotencyKey)
    {
        // The group's keys and channel name are built once per group, not per message.
        GroupQueue queue = _queues.GetOrAdd(groupId, static (group, keys) => new GroupQueue(group, keys), _keys);
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
            RedisPayload.FramedMessageTail(_keys.NodeId, publishId, skip, from, timestamp, bodyIsCompact, body.Span),
            body.Length,
            new OutgoingMessage(from, timestamp, bodyIsCompact, skip),
            waitForEcho ? Environment.TickCount64 : null,
            idempotencyKey is null ? null : (RedisKeys.SentId(queue.StreamPrefix, from, idempotencyKey), _keys.UsedId(from, idempotencyKey)));
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
        return new ValueTask<PublishOutcome>(pending.Done.Task);
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
            (bool ok, RedisResult reply) = await _guard.TryAsync(
                "publish",
                (Keys: ScriptKeys(queue, batch), Args: ScriptArguments(queue, batch)),
                static (mux, s) => mux.GetDatabase().ScriptEvaluateAsync(RedisScripts.PublishBatch, s.Keys, s.Args)).ConfigureAwait(false);
            if (ok)
            {
                Complete(batch, (RedisResult[])reply!);
                return;
            }

            // Redis is away (or did not answer in time): nothing is numbered here, so the numbering never forks between
            // nodes; each sender gets `unavailable` and retries with the same id. A script that did run after all (a
            // reply that timed out) makes that retry a duplicate with the first seq (docs/scaling.md, "Losing Redis").
            foreach (PendingPublish message in batch)
            {
                _echoes.Forget(message.PublishId);
                message.Settle(new PublishOutcome(0) { Unavailable = true });
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

    /// <summary>The script's answer, per message: its seq (published), the first seq negated (a duplicate), or the other group (a conflict).</summary>
    private void Complete(List<PendingPublish> batch, RedisResult[] results)
    {
        _metrics.Published("message", (int)(long)results[2]);
        for (int i = 0; i < batch.Count; i++)
        {
            PendingPublish message = batch[i];
            RedisResult result = results[3 + i];
            bool isSeq = result.Resp2Type == ResultType.Integer;
            if (isSeq && (long)result > 0)
            {
                message.SeqKnown((long)result);
                continue;
            }

            // Not published, so no echo will come: the sender gets its answer now.
            _echoes.Forget(message.PublishId);
            if (isSeq)
            {
                _metrics.NotPublished("duplicate");
                message.Settle(new PublishOutcome(-(long)result, Duplicate: true));
            }
            else
            {
                _metrics.NotPublished("conflict");
                message.Settle(new PublishOutcome(0, ConflictingGroup: (string)result!));
            }
        }
    }

    private static RedisKey[] ScriptKeys(GroupQueue queue, List<PendingPublish> batch)
    {
        var keys = new List<RedisKey>(3 + (2 * batch.Count)) { queue.SeqKey, queue.EpochKey, queue.StreamKey };
        foreach (PendingPublish message in batch)
        {
            if (message.IdempotencyKeys is (RedisKey sent, RedisKey used))
            {
                keys.Add(sent);
                keys.Add(used);
            }
        }

        return keys.ToArray();
    }

    private RedisValue[] ScriptArguments(GroupQueue queue, List<PendingPublish> batch)
    {
        var args = new RedisValue[7 + (3 * batch.Count)];
        args[0] = queue.ChannelName;
        args[1] = StreamEpochs.NewCandidate();
        args[2] = (long)_delivery.IdempotencyWindow.TotalMilliseconds;
        args[3] = queue.GroupId;
        args[4] = batch.Count;
        args[5] = _delivery.HistoryMessagesPerGroup;
        args[6] = (long)_delivery.HistoryMaxAge.TotalMilliseconds;
        for (int i = 0; i < batch.Count; i++)
        {
            args[7 + (3 * i)] = batch[i].IdempotencyKeys is null ? "0" : "1";
            args[8 + (3 * i)] = batch[i].Tail;
            args[9 + (3 * i)] = batch[i].Message.Timestamp;
        }

        return args;
    }

    /// <summary>One group's messages waiting for the next publish script, and the names the script needs.</summary>
    private sealed class GroupQueue(string groupId, RedisKeys keys)
    {
        public string GroupId { get; } = groupId;

        /// <summary>The start of the group's keys (its Cluster hash tag), for the idempotency keys in its slot.</summary>
        public string StreamPrefix { get; } = keys.StreamPrefix(groupId);

        public RedisKey SeqKey { get; } = keys.Seq(groupId);

        public RedisKey EpochKey { get; } = keys.Epoch(groupId);

        public RedisKey StreamKey { get; } = keys.Stream(groupId);

        public string ChannelName { get; } = (string)keys.GroupChannel(groupId)!;

        /// <summary>Messages waiting, in call order; guarded by this object's monitor, as is <see cref="Flushing"/>.</summary>
        public List<PendingPublish>? Waiting;

        /// <summary>Whether a flush loop is running for this group (at most one).</summary>
        public bool Flushing;
    }
}
