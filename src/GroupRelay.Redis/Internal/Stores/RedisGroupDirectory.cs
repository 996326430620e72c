using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using StackExchange.Redis;

namespace GroupRelay.Internal;

/// <summary>
/// The group index across nodes: this node's members live in Core's <see cref="InMemoryGroupDirectory"/> (the local
/// truth, and the answers while Redis is away) and are mirrored into Redis; the group's first local member subscribes
/// this node to the group's channel, the last one unsubscribes. <see cref="GetMembersAsync"/> answers for every node,
/// <see cref="GetGroupsAsync"/> for users connected here.
/// </summary>
/// <remarks>
/// Thread-safety in one sentence: the local store is thread-safe, <see cref="GroupSubscriptions"/> serialises each
/// group's subscription changes, and every write to Redis holds <see cref="SharedExclusiveGate"/> shared, so a resync
/// (holding it alone) never sees a local change whose mirror is still in flight.
/// </remarks>
internal sealed class RedisGroupDirectory : IGroupDirectory
{
    private readonly InMemoryGroupDirectory _local;
    private readonly InMemoryPresenceRegistry _presence;
    private readonly SharedExclusiveGate _gate;
    private readonly RedisGuard _guard;
    private readonly GroupSubscriptions _subscriptions;
    private readonly RedisKeys _keys;

    public RedisGroupDirectory(InMemoryGroupDirectory local, InMemoryPresenceRegistry presence, SharedExclusiveGate gate, RedisGuard guard, GroupSubscriptions subscriptions, RedisKeys keys)
    {
        _local = local;
        _presence = presence;
        _gate = gate;
        _guard = guard;
        _subscriptions = subscriptions;
        _keys = keys;
    }

    public async ValueTask<bool> AddMemberAsync(string groupId, string userId, CancellationToken cancellationToken = default)
    {
        using SharedExclusiveGate.SharedLease write = await _gate.EnterSharedAsync(CancellationToken.None).ConfigureAwait(false);
        if (!await _local.AddMemberAsync(groupId, userId, CancellationToken.None).ConfigureAwait(false))
        {
            return false;
        }

        // Subscribed before the caller goes on (and, on connect, before the welcome is sent).
        await _subscriptions.ReconcileAsync(groupId).ConfigureAwait(false);
        await MirrorAsync(groupId, userId, add: true).ConfigureAwait(false);
        return true;
    }

    public async ValueTask<bool> RemoveMemberAsync(string groupId, string userId, CancellationToken cancellationToken = default)
    {
        using SharedExclusiveGate.SharedLease write = await _gate.EnterSharedAsync(CancellationToken.None).ConfigureAwait(false);
        if (!await _local.RemoveMemberAsync(groupId, userId, CancellationToken.None).ConfigureAwait(false))
        {
            return false;
        }

        await LeftAsync(groupId, userId).ConfigureAwait(false);
        return true;
    }

    public async ValueTask<IReadOnlyCollection<string>> RemoveUserAsync(string userId, CancellationToken cancellationToken = default)
    {
        using SharedExclusiveGate.SharedLease write = await _gate.EnterSharedAsync(CancellationToken.None).ConfigureAwait(false);
        IReadOnlyCollection<string> groups = await _local.RemoveUserAsync(userId, CancellationToken.None).ConfigureAwait(false);
        foreach (string group in groups)
        {
            await LeftAsync(group, userId).ConfigureAwait(false);
        }

        return groups;
    }

    public ValueTask<IReadOnlyCollection<string>> GetGroupsAsync(string userId, CancellationToken cancellationToken = default)
        => _local.GetGroupsAsync(userId, cancellationToken);

    public async ValueTask<IReadOnlyList<string>> GetMembersAsync(string groupId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(groupId);
        (bool ok, RedisValue[] members) = await _guard.TryWhenConnectedAsync("get_members", _keys.Members(groupId), static (mux, key) => mux.GetDatabase().HashKeysAsync(key)).ConfigureAwait(false);
        return ok ? members.Select(v => (string)v!).ToList() : _local.GetMembers(groupId);
    }

    public async ValueTask<bool> IsMemberAsync(string groupId, string userId, CancellationToken cancellationToken = default)
    {
        if (await _local.IsMemberAsync(groupId, userId, cancellationToken).ConfigureAwait(false))
        {
            return true;
        }

        // A user connected here is answered by the local index alone; only others are asked of Redis.
        if (_presence.GetLocalConnections(userId).Count > 0)
        {
            return false;
        }

        (bool ok, bool member) = await _guard.TryWhenConnectedAsync("is_member", (Key: _keys.Members(groupId), userId), static (mux, s) => mux.GetDatabase().HashExistsAsync(s.Key, s.userId)).ConfigureAwait(false);
        return ok && member;
    }

    /// <summary>Mirrors a local removal into Redis, then unsubscribes when the group has no local member left.</summary>
    private async Task LeftAsync(string groupId, string userId)
    {
        await MirrorAsync(groupId, userId, add: false).ConfigureAwait(false);
        await _subscriptions.ReconcileAsync(groupId).ConfigureAwait(false);
    }

    private async Task MirrorAsync(string groupId, string userId, bool add)
        => await _guard.TryAsync(add ? "add_member" : "remove_member", (_keys, groupId, userId, add), static (mux, s) => mux.GetDatabase().ScriptEvaluateAsync(
            s.add ? RedisScripts.AddMember : RedisScripts.RemoveMember,
            new[] { s._keys.NodeMemberships, s._keys.Members(s.groupId) },
            new RedisValue[] { RedisKeys.Pair(s.groupId, s.userId), s.userId })).ConfigureAwait(false);
}
