using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using GroupRelay.Internal;

namespace GroupRelay;

/// <summary>
/// The default <see cref="IPresenceRegistry"/>: the online list of this process. A user's entry exists exactly
/// while it has an open connection, so nothing is left behind when the last one closes.
/// </summary>
/// <remarks>
/// Thread-safe: each user has its own lock for writes and connection look-ups read an immutable snapshot, so
/// fan-out neither blocks connects nor allocates. Every call completes synchronously.
/// </remarks>
public sealed class InMemoryPresenceRegistry : IPresenceRegistry
{
    private readonly SetIndex<RelayConnection> _connections = new(ReferenceEqualityComparer.Instance);
    private readonly ConcurrentDictionary<string, string?> _status = new(StringComparer.Ordinal);

    /// <summary>Number of users with at least one open connection.</summary>
    public int OnlineUserCount => _connections.KeyCount;

    /// <inheritdoc />
    public ValueTask<bool> AddConnectionAsync(RelayConnection connection, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(connection);
        _connections.Add(connection.UserId, connection, out bool first);
        if (first)
        {
            _status[connection.UserId] = null;
        }

        return new ValueTask<bool>(first);
    }

    /// <inheritdoc />
    public ValueTask<bool> RemoveConnectionAsync(RelayConnection connection, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(connection);
        _connections.Remove(connection.UserId, connection, out bool last);
        if (last)
        {
            _status.TryRemove(connection.UserId, out _);
        }

        return new ValueTask<bool>(last);
    }

    /// <inheritdoc />
    public IReadOnlyList<RelayConnection> GetLocalConnections(string userId)
    {
        ArgumentNullException.ThrowIfNull(userId);
        return _connections.Get(userId);
    }

    /// <inheritdoc />
    public ValueTask<PresenceState> GetStateAsync(string userId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(userId);
        return new ValueTask<PresenceState>(_status.TryGetValue(userId, out string? status) ? new PresenceState(true, status) : PresenceState.Offline);
    }

    /// <inheritdoc />
    public ValueTask<bool> SetStatusAsync(string userId, string? status, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(userId);
        if (!_connections.ContainsKey(userId))
        {
            return new ValueTask<bool>(false);
        }

        _status[userId] = status;
        return new ValueTask<bool>(true);
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyCollection<string>> GetOnlineUsersAsync(CancellationToken cancellationToken = default)
        => new(new List<string>(_connections.Keys));
}
