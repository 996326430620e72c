using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using GroupRelay.ScaleOut;

namespace GroupRelay.Internal;

/// <summary>
/// Publishes this node's group messages: one publish script per group in flight at a time (epoch checked, idempotency
/// keys checked and recorded, seqs taken, the published messages appended to the group's Redis Stream and PUBLISHed in one
/// atomic step, see <see cref="PublishScript"/>); what arrives meanwhile waits in call order and goes out together in the
/// next script, at most <see cref="MaxBatch"/> at a time. While Redis is away, a batch is refused
/// (<see cref="PublishOutcome.Unavailable"/>): only Redis numbers a group's messages. A group's queue is dropped once it
/// has been idle for the sweep's grace (<see cref="Sweep"/>).
/// </summary>
/// <remarks>
/// Thread-safety in one sentence: each group's queue has a lock held only to append a message, take a batch or drop the
/// queue, and a flag under it lets one flush loop per group run, so a group's messages leave in call order while many
/// connections publish concurrently and different groups flush in parallel; a publisher that finds its queue dropped
/// takes a fresh one, so no message is ever queued where no loop will flush it.
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
    private readonly PublishScript _script;
    private readonly GroupSubscriptions _subscriptions;
    private readonly EchoTracker _echoes;
    private readonly NodeDelivery _delivery;
    private readonly RedisKeys _keys;
    private readonly RedisRelayMetrics _metrics;
    private long _nextPublishId;

    public RedisMessagePublisher(PublishScript script, GroupSubscriptions subscriptions, EchoTracker echoes, NodeDelivery delivery, RedisKeys keys, RedisRelayMetrics metrics)
    {
        _script = script;
        _subscriptions = subscriptions;
        _echoes = echoes;
        _delivery = delivery;
        _keys = keys;
        _metrics = metrics;
    }

    /// <summary>The groups this node holds a publish queue for (for tests and the dead-group measurement).</summary>
    internal int QueueCount => _queues.Count;

    public ValueTask<PublishOutcome> PublishAsync(string groupId, string from, ReadOnlyMemory<byte> body, bool bodyIsCompact, RelayConnection? sender, bool echo, string? idempotencyKey)
    {
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
            idempotencyKey is null ? null : (RedisKeys.SentId(_keys.StreamPrefix(groupId), from, idempotencyKey), _keys.UsedId(from, idempotencyKey)));
        if (waitForEcho)
        {
            _echoes.Track(pending);
        }

        // The message takes its place in the group's order here, under the lock, in call order; a queue the sweep
        // dropped meanwhile is replaced (the group's keys and channel name are built once per queue, not per message).
        while (true)
        {
            GroupQueue queue = _queues.GetOrAdd(groupId, static (group, s) => new GroupQueue(group, s.Keys, s.Clock.GetTimestamp()), (Keys: _keys, Clock: _delivery.Clock));
            bool flush;
            lock (queue)
            {
                if (queue.Dropped)
                {
                    continue;
                }

                (queue.Waiting ??= new List<PendingPublish>()).Add(pending);
                flush = !queue.Flushing;
                queue.Flushing = true;
            }

            if (flush)
            {
                _ = FlushAsync(queue);
            }

            break;
        }

        // One task for both waits (the seq from the script's reply, the echo from this node's delivery): the sender
        // resumes once per message, not once per wait.
        return new ValueTask<PublishOutcome>(pending.Done.Task);
    }

    /// <summary>
    /// Drops the queues of groups that have nothing waiting, no flush under way and no message for
    /// <paramref name="grace"/>: a group this node no longer publishes to holds nothing here.
    /// </summary>
    internal void Sweep(TimeSpan grace)
    {
        TimeProvider clock = _delivery.Clock;
        foreach (KeyValuePair<string, GroupQueue> pair in _queues)
        {
            GroupQueue queue = pair.Value;
            if (clock.GetElapsedTime(Volatile.Read(ref queue.LastUsed)) < grace)
            {
                continue;
            }

            lock (queue)
            {
                if (!queue.Flushing && queue.Waiting is not { Count: > 0 } && clock.GetElapsedTime(queue.LastUsed) >= grace)
                {
                    queue.Dropped = true;
                    _queues.TryRemove(pair);
                }
            }
        }
    }

    /// <summary>Publishes what waits for a group, batch after batch, until nothing does; never throws.</summary>
    private async Task FlushAsync(GroupQueue queue)
    {
        while (true)
        {
            List<PendingPublish> batch;
            lock (queue)
            {
                if (queue.Waiting is not { Count: > 0 })
                {
                    queue.Flushing = false;
                    Volatile.Write(ref queue.LastUsed, _delivery.Clock.GetTimestamp());
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

            await PublishBatchAsync(queue, batch).ConfigureAwait(false);
        }
    }

    private async Task PublishBatchAsync(GroupQueue queue, List<PendingPublish> batch)
    {
        try
        {
            (BatchFate fate, PublishResults? results) = await _script.RunAsync(queue, batch).ConfigureAwait(false);
            if (fate == BatchFate.Ran)
            {
                Complete(batch, results!);
                return;
            }

            // Refused: Redis is away (or the batch was fenced after its reply was lost): nothing was numbered, so the
            // numbering never forks between nodes, and nothing was delivered; each sender gets `unavailable` and retries
            // with the same id. Unknown: Redis could not be asked what became of it; the sender is told it may have been
            // delivered (docs/scaling.md, "Losing Redis").
            foreach (PendingPublish message in batch)
            {
                _echoes.Forget(message.PublishId);
                message.Settle(new PublishOutcome(0) { Unavailable = true, OutcomeUnknown = fate == BatchFate.Unknown });
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
    private void Complete(List<PendingPublish> batch, PublishResults results)
    {
        _metrics.Published("message", results.Published);
        for (int i = 0; i < batch.Count; i++)
        {
            PendingPublish message = batch[i];
            MessageResult result = results.Messages[i];
            if (result.Seq > 0)
            {
                message.SeqKnown(result.Seq);
                continue;
            }

            // Not published, so no echo will come: the sender gets its answer now.
            _echoes.Forget(message.PublishId);
            if (result.ConflictingGroup is null)
            {
                _metrics.NotPublished("duplicate");
                message.Settle(new PublishOutcome(-result.Seq, Duplicate: true));
            }
            else
            {
                _metrics.NotPublished("conflict");
                message.Settle(new PublishOutcome(0, ConflictingGroup: result.ConflictingGroup));
            }
        }
    }
}
