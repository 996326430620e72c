using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using StackExchange.Redis;

namespace GroupRelay.Internal;

/// <summary>This node's local state (the answers when Redis is away) and its mirror in Redis.</summary>
internal sealed partial class RedisRelayNode
{
    // Copy-on-write arrays: readers on the fan-out path take a snapshot without locking or allocating.
    private readonly object _indexLock = new();
    private readonly ConcurrentDictionary<string, RelayConnection[]> _connections = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string?> _localStatus = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string[]> _groupMembers = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string[]> _userGroups = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim[] _stripes = new SemaphoreSlim[64];

    public IReadOnlyList<RelayConnection> GetLocalConnections(string userId)
        => _connections.TryGetValue(userId, out RelayConnection[]? connections) ? connections : Array.Empty<RelayConnection>();

    public string[] GetLocalMembers(string groupId)
        => _groupMembers.TryGetValue(groupId, out string[]? members) ? members : Array.Empty<string>();

    public bool IsLocalMember(string groupId, string userId)
        => _userGroups.TryGetValue(userId, out string[]? groups) && Array.IndexOf(groups, groupId) >= 0;

    public IReadOnlyCollection<string> GetLocalGroups(string userId)
        => _userGroups.TryGetValue(userId, out string[]? groups) ? groups : Array.Empty<string>();

    public async ValueTask<bool> AddConnectionAsync(RelayConnection connection)
    {
        using SharedWrite write = await EnterWriteAsync().ConfigureAwait(false);
        bool firstHere;
        lock (_indexLock)
        {
            RelayConnection[] current = _connections.GetValueOrDefault(connection.UserId) ?? Array.Empty<RelayConnection>();
            firstHere = current.Length == 0;
            _connections[connection.UserId] = current.Append(connection).ToArray();
            if (firstHere)
            {
                _localStatus[connection.UserId] = null;
            }
        }

        if (IsConnected)
        {
            try
            {
                long total = (long)await Db.ScriptEvaluateAsync(RedisScripts.AddConnection, new[] { Keys.NodeUsers, Keys.Online, Keys.Status }, new RedisValue[] { connection.UserId, 1 }).ConfigureAwait(false);
                return total == 1;
            }
            catch (Exception ex) when (IsRedisFailure(ex))
            {
                Fallback("add_connection", ex);
                return firstHere;
            }
        }

        Fallback("add_connection", null);
        return firstHere;
    }

    public async ValueTask<bool> RemoveConnectionAsync(RelayConnection connection)
    {
        using SharedWrite write = await EnterWriteAsync().ConfigureAwait(false);
        bool lastHere;
        lock (_indexLock)
        {
            if (!_connections.TryGetValue(connection.UserId, out RelayConnection[]? current) || Array.IndexOf(current, connection) < 0)
            {
                return false;
            }

            RelayConnection[] rest = current.Where(c => !ReferenceEquals(c, connection)).ToArray();
            lastHere = rest.Length == 0;
            if (lastHere)
            {
                _connections.TryRemove(connection.UserId, out _);
                _localStatus.TryRemove(connection.UserId, out _);
            }
            else
            {
                _connections[connection.UserId] = rest;
            }
        }

        if (IsConnected)
        {
            try
            {
                long total = (long)await Db.ScriptEvaluateAsync(RedisScripts.RemoveConnection, new[] { Keys.NodeUsers, Keys.Online, Keys.Status }, new RedisValue[] { connection.UserId }).ConfigureAwait(false);
                return total == 0;
            }
            catch (Exception ex) when (IsRedisFailure(ex))
            {
                Fallback("remove_connection", ex);
                return lastHere;
            }
        }

        Fallback("remove_connection", null);
        return lastHere;
    }

    public async ValueTask<PresenceState> GetStateAsync(string userId)
    {
        if (IsConnected)
        {
            try
            {
                var result = (RedisResult[])(await Db.ScriptEvaluateAsync(RedisScripts.GetState, new[] { Keys.Online, Keys.Status }, new RedisValue[] { userId }).ConfigureAwait(false))!;
                return (long)result[0] == 1 ? new PresenceState(true, result[1].IsNull ? null : (string?)result[1]) : PresenceState.Offline;
            }
            catch (Exception ex) when (IsRedisFailure(ex))
            {
                Fallback("get_state", ex);
            }
        }

        return _connections.ContainsKey(userId) ? new PresenceState(true, _localStatus.GetValueOrDefault(userId)) : PresenceState.Offline;
    }

    public async ValueTask<bool> SetStatusAsync(string userId, string? status)
    {
        bool local = _connections.ContainsKey(userId);
        if (local)
        {
            _localStatus[userId] = status;
        }

        if (IsConnected)
        {
            try
            {
                return (long)await Db.ScriptEvaluateAsync(RedisScripts.SetStatus, new[] { Keys.Online, Keys.Status }, new RedisValue[] { userId, status is null ? "0" : "1", status ?? string.Empty }).ConfigureAwait(false) == 1;
            }
            catch (Exception ex) when (IsRedisFailure(ex))
            {
                Fallback("set_status", ex);
            }
        }

        return local;
    }

    public async ValueTask<IReadOnlyCollection<string>> GetOnlineUsersAsync()
    {
        if (IsConnected)
        {
            try
            {
                return (await Db.HashKeysAsync(Keys.Online).ConfigureAwait(false)).Select(v => (string)v!).ToList();
            }
            catch (Exception ex) when (IsRedisFailure(ex))
            {
                Fallback("online_users", ex);
            }
        }

        return _connections.Keys.ToList();
    }

    public async ValueTask<bool> AddMemberAsync(string groupId, string userId)
    {
        using SharedWrite write = await EnterWriteAsync().ConfigureAwait(false);
        SemaphoreSlim stripe = Stripe(groupId);
        await stripe.WaitAsync().ConfigureAwait(false);
        try
        {
            bool first;
            lock (_indexLock)
            {
                string[] members = GetLocalMembers(groupId);
                if (Array.IndexOf(members, userId) >= 0)
                {
                    return false;
                }

                first = members.Length == 0;
                _groupMembers[groupId] = members.Append(userId).ToArray();
                _userGroups[userId] = GetLocalGroups(userId).Append(groupId).ToArray();
            }

            GroupState state = _groups.GetOrAdd(groupId, static _ => new GroupState());
            if (first)
            {
                await SubscribeGroupAsync(groupId, state, resubscribe: false).ConfigureAwait(false);
            }

            await MirrorMembershipAsync(groupId, userId, add: true).ConfigureAwait(false);
            return true;
        }
        finally
        {
            stripe.Release();
        }
    }

    public async ValueTask<bool> RemoveMemberAsync(string groupId, string userId)
    {
        using SharedWrite write = await EnterWriteAsync().ConfigureAwait(false);
        return await RemoveMemberCoreAsync(groupId, userId).ConfigureAwait(false);
    }

    public async ValueTask<IReadOnlyCollection<string>> RemoveUserAsync(string userId)
    {
        using SharedWrite write = await EnterWriteAsync().ConfigureAwait(false);
        string[] groups = GetLocalGroups(userId).ToArray();
        foreach (string group in groups)
        {
            await RemoveMemberCoreAsync(group, userId).ConfigureAwait(false);
        }

        return groups;
    }

    public async ValueTask<IReadOnlyList<string>> GetMembersAsync(string groupId)
    {
        if (IsConnected)
        {
            try
            {
                return (await Db.HashKeysAsync(Keys.Members(groupId)).ConfigureAwait(false)).Select(v => (string)v!).ToList();
            }
            catch (Exception ex) when (IsRedisFailure(ex))
            {
                Fallback("get_members", ex);
            }
        }

        return GetLocalMembers(groupId);
    }

    public async ValueTask<bool> IsMemberAsync(string groupId, string userId)
    {
        if (IsLocalMember(groupId, userId))
        {
            return true;
        }

        if (IsConnected && !_connections.ContainsKey(userId))
        {
            try
            {
                return await Db.HashExistsAsync(Keys.Members(groupId), userId).ConfigureAwait(false);
            }
            catch (Exception ex) when (IsRedisFailure(ex))
            {
                Fallback("is_member", ex);
            }
        }

        return false;
    }

    private async ValueTask<bool> RemoveMemberCoreAsync(string groupId, string userId)
    {
        SemaphoreSlim stripe = Stripe(groupId);
        await stripe.WaitAsync().ConfigureAwait(false);
        try
        {
            bool last;
            lock (_indexLock)
            {
                string[] members = GetLocalMembers(groupId);
                if (Array.IndexOf(members, userId) < 0)
                {
                    return false;
                }

                string[] rest = members.Where(m => !string.Equals(m, userId, StringComparison.Ordinal)).ToArray();
                last = rest.Length == 0;
                if (last)
                {
                    _groupMembers.TryRemove(groupId, out _);
                }
                else
                {
                    _groupMembers[groupId] = rest;
                }

                string[] groups = GetLocalGroups(userId).Where(g => !string.Equals(g, groupId, StringComparison.Ordinal)).ToArray();
                if (groups.Length == 0)
                {
                    _userGroups.TryRemove(userId, out _);
                }
                else
                {
                    _userGroups[userId] = groups;
                }
            }

            await MirrorMembershipAsync(groupId, userId, add: false).ConfigureAwait(false);
            if (last && _groups.TryGetValue(groupId, out GroupState? state))
            {
                await UnsubscribeGroupAsync(state).ConfigureAwait(false);
            }

            return true;
        }
        finally
        {
            stripe.Release();
        }
    }

    private async Task MirrorMembershipAsync(string groupId, string userId, bool add)
    {
        if (!IsConnected)
        {
            Fallback(add ? "add_member" : "remove_member", null);
            return;
        }

        try
        {
            await Db.ScriptEvaluateAsync(add ? RedisScripts.AddMember : RedisScripts.RemoveMember, new[] { Keys.NodeMemberships, Keys.Members(groupId) }, new RedisValue[] { RedisKeys.Pair(groupId, userId), userId }).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsRedisFailure(ex))
        {
            Fallback(add ? "add_member" : "remove_member", ex);
        }
    }

    private SemaphoreSlim Stripe(string groupId) => _stripes[(int)((uint)StringComparer.Ordinal.GetHashCode(groupId) % (uint)_stripes.Length)];

    private static bool IsRedisFailure(Exception exception)
        => exception is RedisException or TimeoutException or ObjectDisposedException or InvalidOperationException or System.IO.IOException;
}
