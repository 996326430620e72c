using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

namespace GroupRelay.Internal;

/// <summary>
/// The group index across nodes. Changes come from this node's own users and are kept locally (the group's first local
/// member subscribes this node to the group's channel, the last one unsubscribes) and mirrored into Redis.
/// <see cref="GetMembersAsync"/> answers for every node; <see cref="GetGroupsAsync"/> for users connected here.
/// </summary>
internal sealed class RedisGroupDirectory : IGroupDirectory
{
    private readonly RedisRelayNode _node;

    public RedisGroupDirectory(RedisRelayNode node) => _node = node;

    public ValueTask<bool> AddMemberAsync(string groupId, string userId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(groupId);
        ArgumentNullException.ThrowIfNull(userId);
        return _node.AddMemberAsync(groupId, userId);
    }

    public ValueTask<bool> RemoveMemberAsync(string groupId, string userId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(groupId);
        ArgumentNullException.ThrowIfNull(userId);
        return _node.RemoveMemberAsync(groupId, userId);
    }

    public ValueTask<IReadOnlyCollection<string>> RemoveUserAsync(string userId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(userId);
        return _node.RemoveUserAsync(userId);
    }

    public ValueTask<IReadOnlyCollection<string>> GetGroupsAsync(string userId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(userId);
        return new ValueTask<IReadOnlyCollection<string>>(_node.GetLocalGroups(userId));
    }

    public ValueTask<IReadOnlyList<string>> GetMembersAsync(string groupId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(groupId);
        return _node.GetMembersAsync(groupId);
    }

    public ValueTask<bool> IsMemberAsync(string groupId, string userId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(groupId);
        ArgumentNullException.ThrowIfNull(userId);
        return _node.IsMemberAsync(groupId, userId);
    }
}
