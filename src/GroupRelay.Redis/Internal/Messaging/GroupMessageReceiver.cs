using System;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace GroupRelay.Internal;

/// <summary>
/// The receive path of group channels: hands each batch of messages (<c>B{epoch}|{first seq}|{count}|</c>, then the
/// messages) to <see cref="GroupStreamCatchUp"/>, which delivers it in seq order and closes gaps from the group's
/// stream, and delivers each <c>joined</c>/<c>left</c> event through <see cref="NodeDelivery"/>. When the subscription
/// connection comes back after a drop, every group this node holds is caught up, and so is each group the resync
/// subscribes again, once Redis confirmed the subscription.
/// </summary>
/// <remarks>
/// Thread-safety in one sentence: each subscription's queue calls its handler one message at a time, in publication
/// (= seq) order, and different groups run concurrently, sharing only thread-safe collaborators.
/// </remarks>
internal sealed class GroupMessageReceiver
{
    private readonly GroupSubscriptions _subscriptions;
    private readonly NodeDelivery _delivery;
    private readonly GroupStreamCatchUp _catchUp;
    private readonly RedisConnection _connection;
    private readonly RedisRelayMetrics _metrics;
    private readonly ILogger _logger;

    public GroupMessageReceiver(GroupSubscriptions subscriptions, NodeDelivery delivery, GroupStreamCatchUp catchUp, RedisConnection connection, RedisRelayMetrics metrics, ILogger logger)
    {
        _subscriptions = subscriptions;
        _delivery = delivery;
        _catchUp = catchUp;
        _connection = connection;
        _metrics = metrics;
        _logger = logger;
    }

    /// <summary>Starts handling every subscription as it is made, until <paramref name="stopping"/> is cancelled.</summary>
    public async Task RunAsync(CancellationToken stopping)
    {
        _connection.SubscriptionRestored += _catchUp.CatchUpAll;
        try
        {
            await foreach (GroupChannelSubscription subscription in _subscriptions.Subscribed.ReadAllAsync(stopping).ConfigureAwait(false))
            {
                string groupId = subscription.GroupId;
                if (subscription.Fresh)
                {
                    _delivery.Unanchor(groupId);
                }

                // The group's sequence is looked up per batch, not captured: the dead-group sweep may replace it, and a
                // queue still draining after an unsubscribe must use the same one as its successor.
                subscription.Queue.OnMessage(message => OnGroupMessage(groupId, message.Message));
                if (!subscription.Fresh)
                {
                    // Subscribed again by the resync: Redis confirmed the subscription, so reading the stream now closes
                    // whatever was published while the node was not subscribed (and the channel could not bring).
                    _catchUp.CatchUp(groupId);
                }
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
        finally
        {
            _connection.SubscriptionRestored -= _catchUp.CatchUpAll;
        }
    }

    private void OnGroupMessage(string groupId, RedisValue value)
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
                _catchUp.OnBatch(groupId, payload);
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
}
