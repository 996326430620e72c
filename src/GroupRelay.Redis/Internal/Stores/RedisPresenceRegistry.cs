using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using StackExchange.Redis;

namespace GroupRelay.Internal;

/// <summary>
/// The online list across nodes: connections and this node's statuses live in Core's
/// <see cref="InMemoryPresenceRegistry"/> (the local truth, and the answers while Redis is away); the online state
/// (connection count per user, and status) is mirrored in Redis, so "first connection" and "last connection" mean
/// anywhere.
/// </summary>
/// <remarks>
/// Thread-safety in one sentence: the local store is thread-safe, the relay serialises the calls that concern one user,
/// and every write to Redis holds <see cref="SharedExclusiveGate"/> shared, so a resync (holding it alone) never sees a
/// local change whose mirror is still in flight.
/// </remarks>
internal sealed class RedisPresenceRegistry : IPresenceRegistry
{
    private readonly InMemoryPresenceRegistry _local;
    private readonly SharedExclusiveGate _gate;
    private readonly RedisGuard _guard;
    private readonly RedisKeys _keys;

    public RedisPresenceRegistry(InMemoryPresenceRegistry local, SharedExclusiveGate gate, RedisGuard guard, RedisKeys keys)
    {
        _local = local;
        _gate = gate;
        _guard = guard;
        _keys = keys;
    }

    public async ValueTask<bool> AddConnectionAsync(RelayConnection connection, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(connection);
        using SharedExclusiveGate.SharedLease write = await _gate.EnterSharedAsync(CancellationToken.None).ConfigureAwait(false);
        bool firstHere = await _local.AddConnectionAsync(connection, CancellationToken.None).ConfigureAwait(false);
        (bool ok, RedisResult total) = await _guard.TryAsync("add_connection", (_keys, connection.UserId), static (mux, s) => mux.GetDatabase().ScriptEvaluateAsync(
            RedisScripts.AddConnection, new[] { s._keys.NodeUsers, s._keys.Online, s._keys.Status }, new RedisValue[] { s.UserId, 1 })).ConfigureAwait(false);
        return ok ? (long)total == 1 : firstHere;
    }

    public async ValueTask<bool> RemoveConnectionAsync(RelayConnection connection, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(connection);
        using SharedExclusiveGate.SharedLease write = await _gate.EnterSharedAsync(CancellationToken.None).ConfigureAwait(false);

        // A connection that never became reachable has nothing to remove here or in Redis. The check and the removal
        // cannot race: the relay serialises the calls that concern one user.
        if (!_local.GetLocalConnections(connection.UserId).Contains(connection))
        {
            return false;
        }

        bool lastHere = await _local.RemoveConnectionAsync(connection, CancellationToken.None).ConfigureAwait(false);
        (bool ok, RedisResult total) = await _guard.TryAsync("remove_connection", (_keys, connection.UserId), static (mux, s) => mux.GetDatabase().ScriptEvaluateAsync(
            RedisScripts.RemoveConnection, new[] { s._keys.NodeUsers, s._keys.Online, s._keys.Status }, new RedisValue[] { s.UserId })).ConfigureAwait(false);
        return ok ? (long)total == 0 : lastHere;
    }

    public IReadOnlyList<RelayConnection> GetLocalConnections(string userId) => _local.GetLocalConnections(userId);

    public async ValueTask<PresenceState> GetStateAsync(string userId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(userId);
        (bool ok, RedisResult reply) = await _guard.TryWhenConnectedAsync("get_state", (_keys, userId), static (mux, s) => mux.GetDatabase().ScriptEvaluateAsync(
            RedisScripts.GetState, new[] { s._keys.Online, s._keys.Status }, new RedisValue[] { s.userId })).ConfigureAwait(false);
        if (!ok)
        {
            return await _local.GetStateAsync(userId, cancellationToken).ConfigureAwait(false);
        }

        var result = (RedisResult[])reply!;
        return (long)result[0] == 1 ? new PresenceState(true, result[1].IsNull ? null : (string?)result[1]) : PresenceState.Offline;
    }

    public async ValueTask<bool> SetStatusAsync(string userId, string? status, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(userId);

        // Set locally first (only when the user is connected here): the resync writes it again after an outage.
        bool local = await _local.SetStatusAsync(userId, status, cancellationToken).ConfigureAwait(false);
        (bool ok, RedisResult set) = await _guard.TryWhenConnectedAsync("set_status", (_keys, userId, status), static (mux, s) => mux.GetDatabase().ScriptEvaluateAsync(
            RedisScripts.SetStatus, new[] { s._keys.Online, s._keys.Status }, new RedisValue[] { s.userId, s.status is null ? "0" : "1", s.status ?? string.Empty })).ConfigureAwait(false);
        return ok ? (long)set == 1 : local;
    }

    public async ValueTask<IReadOnlyCollection<string>> GetOnlineUsersAsync(CancellationToken cancellationToken = default)
    {
        (bool ok, RedisValue[] users) = await _guard.TryWhenConnectedAsync("online_users", _keys.Online, static (mux, key) => mux.GetDatabase().HashKeysAsync(key)).ConfigureAwait(false);
        return ok ? users.Select(v => (string)v!).ToList() : await _local.GetOnlineUsersAsync(cancellationToken).ConfigureAwait(false);
    }
}
