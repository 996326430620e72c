using System;
using System.Globalization;
using System.Threading.Tasks;
using GroupRelay.ScaleOut;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;
using StreamPosition = GroupRelay.ScaleOut.StreamPosition;

namespace GroupRelay.Internal;

/// <summary>
/// The events channel every node subscribes to: presence events (delivered to this node's watchers), run-time
/// membership changes (applied to this node's connections of the user, then acknowledged to the node that asked),
/// and those acknowledgements (counted in <see cref="MembershipAcks"/>).
/// </summary>
/// <remarks>
/// Thread-safety in one sentence: the subscription's queue calls the handler one event at a time, a membership change
/// is applied off that loop (it takes the user's lock), and the subscription is made once, by the resync, which runs
/// alone.
/// </remarks>
internal sealed class RedisEventsChannel
{
    private readonly RedisConnection _connection;
    private readonly RedisGuard _guard;
    private readonly NodeDelivery _delivery;
    private readonly MembershipAcks _acks;
    private readonly RedisRelayMetrics _metrics;
    private readonly ILogger _logger;
    private ChannelMessageQueue? _events;

    public RedisEventsChannel(RedisConnection connection, RedisGuard guard, NodeDelivery delivery, MembershipAcks acks, RedisRelayMetrics metrics, ILogger logger)
    {
        _connection = connection;
        _guard = guard;
        _delivery = delivery;
        _acks = acks;
        _metrics = metrics;
        _logger = logger;
    }

    /// <summary>Subscribes once (StackExchange.Redis keeps the subscription over reconnections); throws when Redis fails.</summary>
    public async Task EnsureSubscribedAsync()
    {
        if (_events is not null)
        {
            return;
        }

        ISubscriber subscriber = _connection.Multiplexer.GetSubscriber();
        await subscriber.UnsubscribeAsync(_connection.Keys.Events).ConfigureAwait(false);
        ChannelMessageQueue queue = await subscriber.SubscribeAsync(_connection.Keys.Events).ConfigureAwait(false);
        queue.OnMessage(message => OnEvent(message.Message));
        _events = queue;
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
                    _metrics.Received("presence");
                    string user = RedisPayload.ReadString(ref span)!;
                    bool online = RedisPayload.ReadString(ref span) == "1";
                    string? status = RedisPayload.ReadString(ref span);
                    _delivery.DeliverPresence(user, online, status);
                    break;
                }

                case RedisPayload.Added or RedisPayload.Removed:
                {
                    _metrics.Received("membership");
                    string user = RedisPayload.ReadString(ref span)!;
                    string group = RedisPayload.ReadString(ref span)!;
                    string? origin = span.IsEmpty ? null : RedisPayload.ReadString(ref span);
                    string? requestId = span.IsEmpty ? null : RedisPayload.ReadString(ref span);
                    StreamPosition position = RedisPayload.ReadPosition(span) ?? default;
                    if (_delivery.HasLocalConnections(user))
                    {
                        _ = ApplyAsync(user, group, payload[0] == RedisPayload.Added, position, origin, requestId);
                    }

                    break;
                }

                case RedisPayload.Acknowledged:
                {
                    string origin = RedisPayload.ReadString(ref span)!;
                    string requestId = RedisPayload.ReadString(ref span)!;
                    if (string.Equals(origin, _connection.NodeId, StringComparison.Ordinal))
                    {
                        _acks.Acknowledge(long.Parse(requestId, NumberStyles.None, CultureInfo.InvariantCulture));
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

    /// <summary>Applies a change to this node's connections of the user, then tells the asking node (routing here follows it now).</summary>
    private async Task ApplyAsync(string user, string group, bool add, StreamPosition position, string? origin, string? requestId)
    {
        try
        {
            await _delivery.ApplyMembershipChangeAsync(user, group, add, position).ConfigureAwait(false);
            if (origin is not null && requestId is not null)
            {
                _guard.TryPublish(_connection.Keys.Events, RedisPayload.Strings(RedisPayload.Acknowledged, origin, requestId), "membership_ack");
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            RedisRelayLog.ReceiveFailed(_logger, ex);
        }
    }
}
