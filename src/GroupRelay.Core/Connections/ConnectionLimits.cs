using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Threading;

namespace GroupRelay.Internal;

/// <summary>
/// Counts open connections per user, per client address and in total, and admits a new one only under every bound
/// (<see cref="GroupRelayOptions.MaxConnectionsPerUser"/>, <see cref="GroupRelayOptions.MaxConnectionsPerAddress"/>,
/// <see cref="GroupRelayOptions.MaxConnections"/>), so one user or one address cannot exhaust the server.
/// </summary>
/// <remarks>
/// Thread-safety: each count changes with a compare-and-swap on its own entry (AddOrUpdate); an admission takes the three
/// in turn and gives back what it took when a later one is full, so counts never stay above a bound. An entry that falls
/// to zero is removed (only if still zero), so idle users and addresses cost nothing.
/// </remarks>
internal sealed class ConnectionLimits
{
    private readonly ConcurrentDictionary<string, int> _perUser = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _perAddress = new(StringComparer.Ordinal);
    private readonly int _maxPerUser;
    private readonly int _maxPerAddress;
    private readonly int _maxTotal;
    private int _total;

    public ConnectionLimits(GroupRelayOptions options)
    {
        _maxPerUser = options.MaxConnectionsPerUser;
        _maxPerAddress = options.MaxConnectionsPerAddress;
        _maxTotal = options.MaxConnections ?? int.MaxValue;
    }

    /// <summary>
    /// Takes a slot for a connection of <paramref name="userId"/> from <paramref name="address"/> (null when unknown);
    /// returns default when admitted, else which limit is full (<c>user</c>, <c>address</c>, <c>total</c>) and why.
    /// </summary>
    public (string? Limit, string? Reason) TryAdmit(string userId, string? address)
    {
        if (Interlocked.Increment(ref _total) > _maxTotal)
        {
            Interlocked.Decrement(ref _total);
            return ("total", $"the server holds its maximum of {_maxTotal} connections (MaxConnections)");
        }

        if (!TryTake(_perUser, userId, _maxPerUser))
        {
            Interlocked.Decrement(ref _total);
            return ("user", $"user {userId} has its maximum of {_maxPerUser} connections (MaxConnectionsPerUser)");
        }

        if (address is not null && !TryTake(_perAddress, address, _maxPerAddress))
        {
            Give(_perUser, userId);
            Interlocked.Decrement(ref _total);
            return ("address", $"address {address} has its maximum of {_maxPerAddress} connections (MaxConnectionsPerAddress)");
        }

        return default;
    }

    /// <summary>Gives back the slot of an admitted connection.</summary>
    public void Release(string userId, string? address)
    {
        Give(_perUser, userId);
        if (address is not null)
        {
            Give(_perAddress, address);
        }

        Interlocked.Decrement(ref _total);
    }

    /// <summary>Open connections of a user as counted here (for tests).</summary>
    internal int CountOf(string userId) => _perUser.GetValueOrDefault(userId);

    private static bool TryTake(ConcurrentDictionary<string, int> counts, string key, int max)
    {
        while (true)
        {
            if (counts.TryGetValue(key, out int current))
            {
                if (current >= max)
                {
                    return false;
                }

                if (counts.TryUpdate(key, current + 1, current))
                {
                    return true;
                }
            }
            else if (counts.TryAdd(key, 1))
            {
                return true;
            }
        }
    }

    private static void Give(ConcurrentDictionary<string, int> counts, string key)
    {
        while (counts.TryGetValue(key, out int current))
        {
            if (current == 1 ? counts.TryRemove(new(key, 1)) : counts.TryUpdate(key, current - 1, current))
            {
                return;
            }
        }
    }
}
