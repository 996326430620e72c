using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Globalization;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using GroupRelay.ScaleOut;
using StackExchange.Redis;

namespace GroupRelay.Internal;

/// <summary>Publishing and receiving: group channels (messages, joined/left) and the events channel.</summary>
internal sealed partial class RedisRelayNode
{
    private readonly ConcurrentDictionary<string, GroupState> _groups = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<long, PendingPublish> _pendingEchoes = new();
    private Timer? _echoSweeper;
    private ChannelMessageQueue? _events;
    private long _nextPublishId;

    public ValueTask<long> PublishMessageAsync(string groupId, string from, ReadOnlyMemory<byte> body, bool bodyIsCompact, RelayConnection? sender, bool echo)
    {
        GroupState state = _groups.GetOrAdd(groupId, static _ => new GroupState());
        long timestamp = Local.GetTimestamp();
        string? skip = echo ? null : sender?.ConnectionId;
        long publishId = Interlocked.Increment(ref _nextPublishId);

        // The echo must reach the sender before its ack: then the message is done only once this node has delivered
        // it as well. The wait is bounded by the sweeper (EchoTimeout), not by a timer per message.
        bool waitForEcho = sender is not null && echo && state.Subscription is not null && !_stopping.IsCancellationRequested;

        // The body is read here, and never again: the relay pipelines sends (see IRelayBackplane), so the caller's
        // buffer holds the next frame once this returns.
        var pending = new PendingPublish(
            RedisPayload.MessageTail(NodeId, publishId, skip, from, timestamp, bodyIsCompact, body.Span),
            body.Length,
            publishId,
            from,
            timestamp,
            bodyIsCompact,
            skip,
            waitForEcho ? Environment.TickCount64 : null);
        if (waitForEcho)
        {
            _pendingEchoes[publishId] = pending;
            EnsureEchoSweeper();
        }

        // The message takes its place in the group's order here, under the gate, in call order. One publish script per
        // group is in flight at a time; what queues up meanwhile goes out together in the next one, so under load the
        // per-message cost of a Redis command, its reply and the subscription's delivery is paid per batch.
        bool flush;
        lock (state.PublishGate)
        {
            (state.Waiting ??= new List<PendingPublish>()).Add(pending);
            flush = !state.Flushing;
            state.Flushing = true;
        }

        if (flush)
        {
            _ = FlushAsync(groupId, state);
        }

        // One task for both waits (the seq from the script's reply, the echo from this node's delivery): the sender
        // resumes once per message, not once per wait.
        return new ValueTask<long>(pending.Done.Task);
    }

    /// <summary>
    /// Messages per publish script at most. Every node queues a whole batch to each local member's connection at once,
    /// so an unbounded batch (a backlog after a stall) would land on every connection in one go and overflow the
    /// 1,024-frame slow-consumer bound everywhere; 64 keeps a batch far below it and still amortises the round trip.
    /// </summary>
    internal const int MaxBatch = 64;

    /// <summary>Publishes what waits for a group, batch after batch, until nothing does; never throws.</summary>
    private async Task FlushAsync(string groupId, GroupState state)
    {
        while (true)
        {
            List<PendingPublish> batch;
            lock (state.PublishGate)
            {
                if (state.Waiting is not { Count: > 0 })
                {
                    state.Flushing = false;
                    return;
                }

                if (state.Waiting.Count <= MaxBatch)
                {
                    batch = state.Waiting;
                    state.Waiting = null;
                }
                else
                {
                    batch = state.Waiting.GetRange(0, MaxBatch);
                    state.Waiting.RemoveRange(0, MaxBatch);
                }
            }

            await PublishBatchAsync(groupId, state, batch).ConfigureAwait(false);
        }
    }

    private async Task PublishBatchAsync(string groupId, GroupState state, List<PendingPublish> batch)
    {
        try
        {
            if (IsConnected)
            {
                try
                {
                    // The group's key and channel name are built once per group, not per message.
                    state.SeqKeys ??= new[] { Keys.Seq(groupId) };
                    state.ChannelName ??= (string)Keys.GroupChannel(groupId)!;
                    byte[][] tails = new byte[batch.Count][];
                    for (int i = 0; i < tails.Length; i++)
                    {
                        tails[i] = batch[i].Tail;
                    }

                    long last = (long)await Db.ScriptEvaluateAsync(
                        RedisScripts.PublishBatch,
                        state.SeqKeys,
                        new RedisValue[] { state.ChannelName, Interlocked.Read(ref state.LastSeq), batch.Count, RedisPayload.Batch(tails) }).ConfigureAwait(false);
                    Metrics.Published("message", batch.Count);
                    long first = last - batch.Count + 1;
                    for (int i = 0; i < batch.Count; i++)
                    {
                        batch[i].SeqKnown(first + i);
                    }

                    return;
                }
                catch (Exception ex) when (IsRedisFailure(ex))
                {
                    Fallback("publish", ex);
                }
            }
            else
            {
                Fallback("publish", null);
            }

            // Redis is away: deliver here, in order, and release each sender's echo wait (the echo was just queued).
            foreach (PendingPublish message in batch)
            {
                long seq = PublishLocally(groupId, state, message.From, message.Timestamp, message.Body, message.Compact, message.Skip);
                if (_pendingEchoes.TryRemove(message.PublishId, out PendingPublish? echoed))
                {
                    echoed.EchoDone();
                }

                message.SeqKnown(seq);
            }
        }
        catch (Exception ex)
        {
            foreach (PendingPublish message in batch)
            {
                _pendingEchoes.TryRemove(message.PublishId, out _);
                message.Done.TrySetException(ex);
            }
        }
    }

    private void EnsureEchoSweeper()
    {
        if (Volatile.Read(ref _echoSweeper) is not null)
        {
            return;
        }

        long period = Math.Max(50, (long)_options.EchoTimeout.TotalMilliseconds / 4);
        var timer = new Timer(static o => ((RedisRelayNode)o!).SweepEchoes(), this, Timeout.Infinite, Timeout.Infinite);
        if (Interlocked.CompareExchange(ref _echoSweeper, timer, null) is null)
        {
            timer.Change(period, period);
        }
        else
        {
            timer.Dispose();
        }
    }

    /// <summary>Releases the senders whose echo did not come back within EchoTimeout.</summary>
    private void SweepEchoes()
    {
        long cutoff = Environment.TickCount64 - (long)_options.EchoTimeout.TotalMilliseconds;
        foreach (var entry in _pendingEchoes)
        {
            if (entry.Value.EchoWaitStarted <= cutoff && _pendingEchoes.TryRemove(entry.Key, out PendingPublish? stale))
            {
                stale.EchoDone();
            }
        }
    }

    private void SweepAllEchoes()
    {
        foreach (var entry in _pendingEchoes)
        {
            if (_pendingEchoes.TryRemove(entry.Key, out PendingPublish? pending))
            {
                pending.EchoDone();
            }
        }
    }

    /// <summary>Redis is away: sequence on this node (continuing from the last seq it saw) and deliver here only.</summary>
    private long PublishLocally(string groupId, GroupState state, string from, long timestamp, ReadOnlySpan<byte> body, bool compact, string? skip)
    {
        lock (state)
        {
            long seq = state.LastSeq + 1;
            Volatile.Write(ref state.LastSeq, seq);
            Local.DeliverMessage(GetLocalMembers(groupId), groupId, from, seq, timestamp, body, compact, skip);
            return seq;
        }
    }

    public void PublishMemberEvent(string groupId, string userId, bool joined)
    {
        if (TryPublish(Keys.GroupChannel(groupId), RedisPayload.Strings(joined ? RedisPayload.Joined : RedisPayload.Left, userId), joined ? "joined" : "left"))
        {
            return;
        }

        Local.DeliverMemberEvent(GetLocalMembers(groupId), groupId, userId, joined);
    }

    public void PublishPresence(string userId, bool online, string? status)
    {
        if (TryPublish(Keys.Events, RedisPayload.Strings(RedisPayload.Presence, userId, online ? "1" : "0", status), "presence"))
        {
            return;
        }

        Local.DeliverPresence(userId, online, status);
    }

    public async Task<bool> ChangeMembershipAsync(string userId, string groupId, bool add, CancellationToken cancellationToken)
    {
        if (IsConnected)
        {
            try
            {
                IDatabase db = Db;
                bool online = await db.HashExistsAsync(Keys.Online, userId).ConfigureAwait(false);
                bool member = await db.HashExistsAsync(Keys.Members(groupId), userId).ConfigureAwait(false);
                if (!online || member == add)
                {
                    return false;
                }

                await db.PublishAsync(Keys.Events, RedisPayload.Strings(add ? RedisPayload.Added : RedisPayload.Removed, userId, groupId)).ConfigureAwait(false);
                Metrics.Published("membership");

                // Routing follows at once: wait (bounded) until the user's nodes have applied the change.
                DateTime deadline = DateTime.UtcNow + _options.EchoTimeout;
                while (await db.HashExistsAsync(Keys.Members(groupId), userId).ConfigureAwait(false) != add && DateTime.UtcNow < deadline)
                {
                    await Task.Delay(10, cancellationToken).ConfigureAwait(false);
                }

                return true;
            }
            catch (Exception ex) when (IsRedisFailure(ex))
            {
                Fallback("membership", ex);
            }
        }

        // Redis is away: change what this node holds.
        return await Local.ApplyMembershipChangeAsync(userId, groupId, add, cancellationToken).ConfigureAwait(false);
    }

    private bool TryPublish(RedisChannel channel, byte[] payload, string kind)
    {
        if (!IsConnected)
        {
            Fallback(kind, null);
            return false;
        }

        try
        {
            _mux!.GetSubscriber().Publish(channel, payload, CommandFlags.FireAndForget);
            Metrics.Published(kind);
            return true;
        }
        catch (Exception ex) when (IsRedisFailure(ex))
        {
            Fallback(kind, ex);
            return false;
        }
    }

    private async Task SubscribeGroupAsync(string groupId, GroupState state, bool resubscribe)
    {
        if (!IsConnected)
        {
            Fallback("subscribe", null);
            return;
        }

        try
        {
            ISubscriber subscriber = _mux!.GetSubscriber();
            RedisChannel channel = Keys.GroupChannel(groupId);
            if (resubscribe)
            {
                // A subscription that failed half-way may still be registered in the client: never deliver twice.
                await subscriber.UnsubscribeAsync(channel).ConfigureAwait(false);
            }

            ChannelMessageQueue queue = await subscriber.SubscribeAsync(channel).ConfigureAwait(false);
            queue.OnMessage(message => OnGroupMessage(groupId, state, message.Message));
            state.Subscription = queue;
        }
        catch (Exception ex) when (IsRedisFailure(ex))
        {
            Fallback("subscribe", ex);
        }
    }

    private async Task UnsubscribeGroupAsync(GroupState state)
    {
        ChannelMessageQueue? queue = Interlocked.Exchange(ref state.Subscription, null);
        if (queue is null)
        {
            return;
        }

        try
        {
            await queue.UnsubscribeAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (IsRedisFailure(ex))
        {
            Fallback("unsubscribe", ex);
        }
    }

    private async Task EnsureEventsSubscribedAsync()
    {
        if (_events is not null)
        {
            return;
        }

        ISubscriber subscriber = _mux!.GetSubscriber();
        await subscriber.UnsubscribeAsync(Keys.Events).ConfigureAwait(false);
        ChannelMessageQueue queue = await subscriber.SubscribeAsync(Keys.Events).ConfigureAwait(false);
        queue.OnMessage(message => OnEvent(message.Message));
        _events = queue;
    }

    /// <summary>Runs on the group's subscription queue: one message at a time, in publication (= seq) order.</summary>
    private void OnGroupMessage(string groupId, GroupState state, RedisValue value)
    {
        try
        {
            byte[] payload = (byte[])value!;
            if (payload.Length == 0)
            {
                return;
            }

            if (payload[0] == RedisPayload.MessageBatch)
            {
                int bar = Array.IndexOf(payload, (byte)'|');
                long seq = long.Parse(payload.AsSpan(1, bar - 1), NumberStyles.None, CultureInfo.InvariantCulture);
                ReadOnlySpan<byte> span = payload.AsSpan(bar + 1);
                int count = RedisPayload.ReadInt(ref span);
                Metrics.Received("message", count);
                for (int i = 0; i < count; i++, seq++)
                {
                    DeliverFromRedis(groupId, state, seq, RedisPayload.ReadBytes(ref span));
                }
            }
            else if (payload[0] is RedisPayload.Joined or RedisPayload.Left)
            {
                Metrics.Received("member_event");
                ReadOnlySpan<byte> span = payload.AsSpan(1);
                string user = RedisPayload.ReadString(ref span)!;
                Local.DeliverMemberEvent(GetLocalMembers(groupId), groupId, user, payload[0] == RedisPayload.Joined);
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            RedisRelayLog.ReceiveFailed(_logger, ex);
        }
    }

    /// <summary>One message of a batch: delivered here unless its seq was already seen; completes its sender's echo wait.</summary>
    private void DeliverFromRedis(string groupId, GroupState state, long seq, ReadOnlySpan<byte> span)
    {
        ReadOnlySpan<byte> origin = RedisPayload.ReadBytes(ref span);
        long publishId = RedisPayload.ReadLong(ref span);
        ReadOnlySpan<byte> skipBytes = RedisPayload.ReadBytes(ref span);
        string from = RedisPayload.ReadString(ref span)!;
        long timestamp = RedisPayload.ReadLong(ref span);
        bool compact = span[0] == 1;
        ReadOnlySpan<byte> body = span[1..];
        bool mine = origin.SequenceEqual(_nodeIdUtf8);

        // Only the sender's node leaves a connection out (echo: false), so only it decodes the connection id.
        string? skip = mine && !skipBytes.IsEmpty ? Encoding.UTF8.GetString(skipBytes) : null;
        lock (state)
        {
            if (seq <= state.LastSeq)
            {
                Metrics.OutOfOrder();
                RedisRelayLog.OutOfOrderDropped(_logger, seq, state.LastSeq);
            }
            else
            {
                Volatile.Write(ref state.LastSeq, seq);
                Local.DeliverMessage(GetLocalMembers(groupId), groupId, from, seq, timestamp, body, compact, skip);
            }
        }

        if (mine && _pendingEchoes.TryRemove(publishId, out PendingPublish? echoed))
        {
            echoed.EchoDone();
        }
    }

    private void OnEvent(RedisValue value)
    {
        try
        {
            byte[] payload = (byte[])value!;
            ReadOnlySpan<byte> span = payload.AsSpan(1);
            switch (payload[0])
            {
                case RedisPayload.Presence:
                {
                    Metrics.Received("presence");
                    string user = RedisPayload.ReadString(ref span)!;
                    bool online = RedisPayload.ReadString(ref span) == "1";
                    string? status = RedisPayload.ReadString(ref span);
                    Local.DeliverPresence(user, online, status);
                    break;
                }

                case RedisPayload.Added or RedisPayload.Removed:
                {
                    Metrics.Received("membership");
                    string user = RedisPayload.ReadString(ref span)!;
                    string group = RedisPayload.ReadString(ref span)!;
                    if (_connections.ContainsKey(user))
                    {
                        _ = ApplyMembershipAsync(user, group, payload[0] == RedisPayload.Added);
                    }

                    break;
                }
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            RedisRelayLog.ReceiveFailed(_logger, ex);
        }
    }

    private async Task ApplyMembershipAsync(string user, string group, bool add)
    {
        try
        {
            await Local.ApplyMembershipChangeAsync(user, group, add).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            RedisRelayLog.ReceiveFailed(_logger, ex);
        }
    }

    /// <summary>What this node knows about one group: the last seq it delivered and its subscription.</summary>
    internal sealed class GroupState
    {
        public long LastSeq;
        public ChannelMessageQueue? Subscription;

        /// <summary>The seq counter's key, as the script's KEYS (built on first publish; a race builds the same value).</summary>
        public RedisKey[]? SeqKeys;

        /// <summary>The group's channel name (built on first publish).</summary>
        public string? ChannelName;

        /// <summary>Guards <see cref="Waiting"/> and <see cref="Flushing"/>.</summary>
        public readonly object PublishGate = new();

        /// <summary>Messages of this node waiting for the next publish script, in call order.</summary>
        public List<PendingPublish>? Waiting;

        /// <summary>Whether a flush loop is running for this group (at most one).</summary>
        public bool Flushing;
    }

    /// <summary>
    /// A message waiting to be published. <see cref="Done"/> completes with its seq once the seq is known and, when the
    /// sender waits for its echo, the echo was delivered (or given up on): whichever comes last completes it.
    /// </summary>
    internal sealed class PendingPublish(byte[] tail, int bodyLength, long publishId, string from, long timestamp, bool compact, string? skip, long? echoWaitStarted)
    {
        private long _seq;

        // What is still awaited: the seq, and the echo if there is one. Each is released exactly once (the seq by the
        // one batch that publishes the message, the echo by whoever removes it from the pending echoes), and the
        // interlocked decrement orders the seq's write before the read of whichever release comes last.
        private int _waits = echoWaitStarted is null ? 1 : 2;

        public byte[] Tail { get; } = tail;

        public ReadOnlySpan<byte> Body => Tail.AsSpan(Tail.Length - bodyLength);

        public long PublishId { get; } = publishId;

        public string From { get; } = from;

        public long Timestamp { get; } = timestamp;

        public bool Compact { get; } = compact;

        public string? Skip { get; } = skip;

        /// <summary>When the sender started to wait for its echo (Environment.TickCount64); only read for messages that wait.</summary>
        public long EchoWaitStarted { get; } = echoWaitStarted ?? 0;

        public TaskCompletionSource<long> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void SeqKnown(long seq)
        {
            Volatile.Write(ref _seq, seq);
            Release();
        }

        public void EchoDone() => Release();

        private void Release()
        {
            if (Interlocked.Decrement(ref _waits) == 0)
            {
                Done.TrySetResult(Volatile.Read(ref _seq));
            }
        }
    }
}
