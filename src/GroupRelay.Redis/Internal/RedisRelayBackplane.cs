using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using GroupRelay.ScaleOut;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace GroupRelay.Internal;

/// <summary>
/// The <see cref="IRelayBackplane"/> over Redis, a thin entry: messages go to <see cref="RedisMessagePublisher"/> (epoch,
/// idempotency keys, seq and PUBLISH in one script), stream positions to <see cref="RedisStreamPositions"/>, <c>history</c> to <see cref="RedisGroupHistory"/> (the group's Redis
/// Stream), events to
/// <see cref="RedisAnnouncer"/>, run-time membership changes to <see cref="RedisMembershipChanges"/>. What arrives from
/// Redis is delivered by <see cref="GroupMessageReceiver"/> and <see cref="RedisEventsChannel"/> through
/// <see cref="NodeDelivery"/>, which holds this node's <see cref="RelayLocalDelivery"/>.
/// </summary>
/// <remarks>Thread-safety in one sentence: stateless; each collaborator is thread-safe.</remarks>
internal sealed class RedisRelayBackplane : IRelayBackplane
{
    private readonly RedisMessagePublisher _publisher;
    private readonly RedisStreamPositions _positions;
    private readonly RedisGroupHistory _history;
    private readonly RedisAnnouncer _announcer;
    private readonly RedisMembershipChanges _membership;
    private readonly RedisConnection _connection;

    public RedisRelayBackplane(RedisMessagePublisher publisher, RedisStreamPositions positions, RedisGroupHistory history, RedisAnnouncer announcer, RedisMembershipChanges membership, RedisConnection connection)
    {
        _connection = connection;
        _publisher = publisher;
        _positions = positions;
        _history = history;
        _announcer = announcer;
        _membership = membership;
    }

    /// <summary>
    /// Unhealthy while Redis is unreachable (sends and <c>history</c> are answered <c>unavailable</c>); degraded while
    /// this node's entries in Redis are being rewritten after a reconnect (resync: presence and the group index may be
    /// incomplete for other nodes meanwhile); healthy otherwise. Data: <c>connected</c>, <c>resync_due</c>, <c>node</c>.
    /// </summary>
    public ValueTask<HealthCheckResult> CheckHealthAsync(CancellationToken cancellationToken = default)
    {
        var data = new Dictionary<string, object>(StringComparer.Ordinal)
        {
            ["connected"] = _connection.IsConnected,
            ["resync_due"] = _connection.ResyncDue,
            ["node"] = _connection.NodeId,
        };
        HealthCheckResult result = !_connection.IsConnected
            ? HealthCheckResult.Unhealthy("Redis is unreachable: sends and history are answered 'unavailable'", data: data)
            : _connection.ResyncDue
                ? HealthCheckResult.Degraded("this node's entries in Redis are being rewritten after a reconnect", data: data)
                : HealthCheckResult.Healthy("Redis connected", data);
        return new(result);
    }

    public ValueTask<PublishOutcome> PublishMessageAsync(string groupId, string from, ReadOnlyMemory<byte> body, bool bodyIsCompact, RelayConnection? sender, bool echo, string? idempotencyKey, CancellationToken cancellationToken = default)
        => _publisher.PublishAsync(groupId, from, body, bodyIsCompact, sender, echo, idempotencyKey);

    public ValueTask<IReadOnlyList<StreamPosition>> GetPositionsAsync(IReadOnlyList<string> groupIds, CancellationToken cancellationToken = default)
        => _positions.GetAsync(groupIds);

    public ValueTask<HistoryPage> ReadHistoryAsync(string groupId, long after, string? epoch, int limit, CancellationToken cancellationToken = default)
        => _history.ReadAsync(groupId, after, epoch, limit);

    public void PublishMemberEvent(string groupId, string userId, bool joined) => _announcer.PublishMemberEvent(groupId, userId, joined);

    public void PublishPresence(string userId, bool online, string? status) => _announcer.PublishPresence(userId, online, status);

    public Task<bool> ChangeMembershipAsync(string userId, string groupId, bool add, CancellationToken cancellationToken = default)
        => _membership.ChangeMembershipAsync(userId, groupId, add, cancellationToken);
}
