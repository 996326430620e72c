using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

namespace GroupRelay.Internal;

/// <summary>
/// The online list across nodes: connections stay on their node, the online state (connection count per user, and
/// status) is shared in Redis, so "first connection" and "last connection" mean anywhere.
/// </summary>
internal sealed class RedisPresenceRegistry : IPresenceRegistry
{
    private readonly RedisRelayNode _node;

    public RedisPresenceRegistry(RedisRelayNode node) => _node = node;

    public ValueTask<bool> AddConnectionAsync(RelayConnection connection, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(connection);
        return _node.AddConnectionAsync(connection);
    }

    public ValueTask<bool> RemoveConnectionAsync(RelayConnection connection, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(connection);
        return _node.RemoveConnectionAsync(connection);
    }

    public IReadOnlyList<RelayConnection> GetLocalConnections(string userId)
    {
        ArgumentNullException.ThrowIfNull(userId);
        return _node.GetLocalConnections(userId);
    }

    public ValueTask<PresenceState> GetStateAsync(string userId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(userId);
        return _node.GetStateAsync(userId);
    }

    public ValueTask<bool> SetStatusAsync(string userId, string? status, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(userId);
        return _node.SetStatusAsync(userId, status);
    }

    public ValueTask<IReadOnlyCollection<string>> GetOnlineUsersAsync(CancellationToken cancellationToken = default)
        => _node.GetOnlineUsersAsync();
}
