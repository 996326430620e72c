using System;
using System.Threading;
using System.Threading.Tasks;
using GroupRelay.ScaleOut;

namespace GroupRelay.Internal;

/// <summary>
/// The <see cref="IRelayBackplane"/> over Redis: a message's seq is taken and the message published by one Lua script
/// (so publication order is seq order), each node delivers what it receives on a group's channel one message at a time.
/// </summary>
internal sealed class RedisRelayBackplane : IRelayBackplane
{
    private readonly RedisRelayNode _node;

    public RedisRelayBackplane(RedisRelayNode node, RelayLocalDelivery localDelivery)
    {
        _node = node;
        _node.Attach(localDelivery);
    }

    public ValueTask<long> PublishMessageAsync(string groupId, string from, ReadOnlyMemory<byte> body, bool bodyIsCompact, RelayConnection? sender, bool echo, CancellationToken cancellationToken = default)
        => _node.PublishMessageAsync(groupId, from, body, bodyIsCompact, sender, echo);

    public void PublishMemberEvent(string groupId, string userId, bool joined) => _node.PublishMemberEvent(groupId, userId, joined);

    public void PublishPresence(string userId, bool online, string? status) => _node.PublishPresence(userId, online, status);

    public Task<bool> ChangeMembershipAsync(string userId, string groupId, bool add, CancellationToken cancellationToken = default)
        => _node.ChangeMembershipAsync(userId, groupId, add, cancellationToken);
}
