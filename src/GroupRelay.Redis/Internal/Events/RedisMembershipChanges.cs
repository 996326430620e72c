using System.Globalization;
using System.Threading;
using System.Threading.Tasks;
using GroupRelay.ScaleOut;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;
using StreamPosition = GroupRelay.ScaleOut.StreamPosition;

namespace GroupRelay.Internal;

/// <summary>
/// A run-time membership change on every node: one script checks the change in Redis, counts the live nodes holding a
/// connection of the user and PUBLISHes the change with a request id (and, for an addition, the group's position, read
/// in the same script) on the events channel; each of those nodes applies it (<c>added</c> carries that position) and
/// acknowledges, and the call returns once all did (bounded by <c>EchoTimeout</c>), so routing follows.
/// </summary>
/// <remarks>
/// Thread-safety in one sentence: each call has its own wait in <see cref="MembershipAcks"/>, registered before the
/// change is published, so concurrent changes never share state. A node that loses the user's last connection between
/// the script and the event does not acknowledge: the call then returns after <c>EchoTimeout</c> (logged and counted).
/// While Redis is away the change is applied on this node only.
/// </remarks>
internal sealed class RedisMembershipChanges
{
    private readonly RedisGuard _guard;
    private readonly RedisConnection _connection;
    private readonly MembershipAcks _acks;
    private readonly NodeDelivery _delivery;
    private readonly RedisRelayMetrics _metrics;
    private readonly ILogger _logger;

    public RedisMembershipChanges(RedisGuard guard, RedisConnection connection, MembershipAcks acks, NodeDelivery delivery, RedisRelayMetrics metrics, ILogger logger)
    {
        _guard = guard;
        _connection = connection;
        _acks = acks;
        _delivery = delivery;
        _metrics = metrics;
        _logger = logger;
    }

    public async Task<bool> ChangeMembershipAsync(string userId, string groupId, bool add, CancellationToken cancellationToken)
    {
        MembershipAcks.Wait wait = _acks.Register();
        try
        {
            RedisKeys keys = _connection.Keys;
            byte[] command = RedisPayload.Strings(add ? RedisPayload.Added : RedisPayload.Removed, userId, groupId, keys.NodeId, wait.RequestId.ToString(CultureInfo.InvariantCulture));
            (bool ok, RedisResult holders) = await _guard.TryWhenConnectedAsync(
                "membership",
                (keys, userId, groupId, add, command),
                static (mux, s) => mux.GetDatabase().ScriptEvaluateAsync(
                    RedisScripts.ChangeMembership,
                    new[] { s.keys.Online, s.keys.Members(s.groupId), s.keys.Nodes, s.keys.Seq(s.groupId), s.keys.Epoch(s.groupId), s.keys.Stream(s.groupId) },
                    new RedisValue[] { s.keys.Prefix, s.userId, s.add ? "1" : "0", (string)s.keys.Events!, s.command, StreamEpochs.NewCandidate(), s.keys.StreamExpiryMilliseconds })).ConfigureAwait(false);
            if (!ok)
            {
                // Redis is away: change what this node holds, with the group's position as this node knows it.
                StreamPosition position = add ? _delivery.KnownPosition(groupId) : default;
                return await _delivery.ApplyMembershipChangeAsync(userId, groupId, add, position, cancellationToken).ConfigureAwait(false);
            }

            int expected = (int)(long)holders;
            if (expected < 0)
            {
                // Offline, or already a member (add), or not a member (remove).
                return false;
            }

            _metrics.Published("membership");
            if (!await wait.WaitForAsync(expected, _connection.Options.EchoTimeout, cancellationToken).ConfigureAwait(false))
            {
                _metrics.MembershipAckTimedOut();
                RedisRelayLog.MembershipAckTimedOut(_logger, wait.Acks, expected, _connection.Options.EchoTimeout);
            }

            return true;
        }
        finally
        {
            _acks.Remove(wait);
        }
    }
}
