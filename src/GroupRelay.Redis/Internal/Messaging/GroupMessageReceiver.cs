using System;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace GroupRelay.Internal;

/// <summary>
/// The receive path of group channels: reads each batch of messages (<c>B{epoch}|{first seq}|{count}|</c>, then the
/// messages) and each <c>joined</c>/<c>left</c> event, delivers them on this node through <see cref="NodeDelivery"/>,
/// and releases the echo waits of this node's own messages.
/// </summary>
/// <remarks>
/// Thread-safety in one sentence: each subscription's queue calls its handler one message at a time, in publication
/// (= seq) order, and different groups run concurrently, sharing only thread-safe collaborators.
/// </remarks>
internal sealed class GroupMessageReceiver
{
    private readonly GroupSubscriptions _subscriptions;
    private readonly NodeDelivery _delivery;
    private readonly EchoTracker _echoes;
    private readonly RedisRelayMetrics _metrics;
    private readonly ILogger _logger;

    // The node id as the payloads carry it: a node recognises its own messages without decoding a string per message.
    private readonly byte[] _nodeIdUtf8;

    public GroupMessageReceiver(GroupSubscriptions subscriptions, NodeDelivery delivery, EchoTracker echoes, RedisKeys keys, RedisRelayMetrics metrics, ILogger logger)
    {
        _subscriptions = subscriptions;
        _delivery = delivery;
        _echoes = echoes;
        _metrics = metrics;
        _logger = logger;
        _nodeIdUtf8 = Encoding.UTF8.GetBytes(keys.NodeId);
    }

    /// <summary>Starts handling every subscription as it is made, until <paramref name="stopping"/> is cancelled.</summary>
    public async Task RunAsync(CancellationToken stopping)
    {
        try
        {
            await foreach (GroupChannelSubscription subscription in _subscriptions.Subscribed.ReadAllAsync(stopping).ConfigureAwait(false))
            {
                string groupId = subscription.GroupId;
                NodeDelivery.GroupSequence sequence = _delivery.Sequence(groupId);
                subscription.Queue.OnMessage(message => OnGroupMessage(groupId, sequence, message.Message));
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
    }

    private void OnGroupMessage(string groupId, NodeDelivery.GroupSequence sequence, RedisValue value)
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
                ReadOnlySpan<byte> span = RedisPayload.ReadBatchHeader(payload, out string epoch, out long seq, out int count);
                _metrics.Received("message", count);
                for (int i = 0; i < count; i++, seq++)
                {
                    Deliver(groupId, sequence, epoch, seq, RedisPayload.ReadBytes(ref span));
                }
            }
            else if (payload[0] is RedisPayload.Joined or RedisPayload.Left)
            {
                _metrics.Received("member_event");
                ReadOnlySpan<byte> span = payload.AsSpan(1);
                string user = RedisPayload.ReadString(ref span)!;
                _delivery.DeliverMemberEvent(groupId, user, payload[0] == RedisPayload.Joined);
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            RedisRelayLog.ReceiveFailed(_logger, ex);
        }
    }

    /// <summary>One message of a batch: delivered here (after a reset when its epoch is new here) unless its seq was already seen; completes its sender's echo wait.</summary>
    private void Deliver(string groupId, NodeDelivery.GroupSequence sequence, string epoch, long seq, ReadOnlySpan<byte> span)
    {
        ReadOnlySpan<byte> body = RedisPayload.ReadMessageTail(span, out ReadOnlySpan<byte> origin, out long publishId, out ReadOnlySpan<byte> skipBytes, out string from, out long timestamp, out bool compact);
        bool mine = origin.SequenceEqual(_nodeIdUtf8);

        // Only the sender's node leaves a connection out (echo: false), so only it decodes the connection id.
        string? skip = mine && !skipBytes.IsEmpty ? Encoding.UTF8.GetString(skipBytes) : null;
        _delivery.DeliverInOrder(groupId, sequence, epoch, seq, from, timestamp, body, compact, skip);
        if (mine)
        {
            _echoes.Complete(publishId);
        }
    }
}
