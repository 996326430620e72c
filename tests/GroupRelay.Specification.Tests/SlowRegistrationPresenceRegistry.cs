using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

namespace GroupRelay.Specification.Tests;

/// <summary>
/// Wraps the server's real <see cref="IPresenceRegistry"/> (in-memory or a backplane's) so a test can make the
/// registration of a user's connections slow, as a remote store is: the order "register, then welcome" becomes
/// observable on the wire.
/// </summary>
public sealed class SlowRegistrationPresenceRegistry : IPresenceRegistry
{
    private readonly IPresenceRegistry _inner;
    private readonly ConcurrentDictionary<string, TimeSpan> _delays;

    public SlowRegistrationPresenceRegistry(IPresenceRegistry inner, ConcurrentDictionary<string, TimeSpan> delays)
    {
        _inner = inner;
        _delays = delays;
    }

    public async ValueTask<bool> AddConnectionAsync(RelayConnection connection, CancellationToken cancellationToken = default)
    {
        if (_delays.TryGetValue(connection.UserId, out TimeSpan delay))
        {
            // A slow store, simulated: the test waits for nothing here.
            await Task.Delay(delay, cancellationToken);
        }

        return await _inner.AddConnectionAsync(connection, cancellationToken);
    }

    public ValueTask<bool> RemoveConnectionAsync(RelayConnection connection, CancellationToken cancellationToken = default)
        => _inner.RemoveConnectionAsync(connection, cancellationToken);

    public IReadOnlyList<RelayConnection> GetLocalConnections(string userId) => _inner.GetLocalConnections(userId);

    public ValueTask<PresenceState> GetStateAsync(string userId, CancellationToken cancellationToken = default)
        => _inner.GetStateAsync(userId, cancellationToken);

    public ValueTask<bool> SetStatusAsync(string userId, string? status, CancellationToken cancellationToken = default)
        => _inner.SetStatusAsync(userId, status, cancellationToken);

    public ValueTask<IReadOnlyCollection<string>> GetOnlineUsersAsync(CancellationToken cancellationToken = default)
        => _inner.GetOnlineUsersAsync(cancellationToken);
}
