using System;
using System.Collections.Generic;

namespace GroupRelay.Client;

/// <summary>The answer to <see cref="GroupRelayClient.WatchAsync"/> (PROTOCOL.md section 3, <c>watch</c>). Immutable.</summary>
public sealed class RelayPresenceSnapshot
{
    /// <summary>Creates a snapshot.</summary>
    /// <param name="online">The watched users who are online, with their status.</param>
    /// <param name="offline">The watched users who are offline.</param>
    /// <param name="forbidden">The users the server does not let this user watch.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    public RelayPresenceSnapshot(IReadOnlyList<RelayUserPresence> online, IReadOnlyList<string> offline, IReadOnlyList<string> forbidden)
    {
        ArgumentNullException.ThrowIfNull(online);
        ArgumentNullException.ThrowIfNull(offline);
        ArgumentNullException.ThrowIfNull(forbidden);
        Online = online;
        Offline = offline;
        Forbidden = forbidden;
    }

    /// <summary>The watched users who are online now, with their app-defined status.</summary>
    public IReadOnlyList<RelayUserPresence> Online { get; }

    /// <summary>The watched users who are offline now.</summary>
    public IReadOnlyList<string> Offline { get; }

    /// <summary>
    /// The users this user may not watch (by default: neither a contact nor a member of one of its groups). Their
    /// state is never revealed; the client stops watching them.
    /// </summary>
    public IReadOnlyList<string> Forbidden { get; }
}

/// <summary>An online user and its status. Immutable.</summary>
public sealed class RelayUserPresence
{
    /// <summary>Creates an entry.</summary>
    /// <param name="user">The user id.</param>
    /// <param name="status">The user's app-defined status (for example <c>away</c>), or null.</param>
    /// <exception cref="ArgumentNullException"><paramref name="user"/> is null.</exception>
    public RelayUserPresence(string user, string? status)
    {
        ArgumentNullException.ThrowIfNull(user);
        User = user;
        Status = status;
    }

    /// <summary>The user id.</summary>
    public string User { get; }

    /// <summary>The user's app-defined status (<see cref="GroupRelayClient.SetStatusAsync"/>), or null when it set none.</summary>
    public string? Status { get; }
}
