using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;

namespace GroupRelay.Internal;

/// <summary>
/// Presence (claim 6 of the method): who watches whom, the answer to <c>watch</c>, and the <c>presence</c> events
/// pushed when a watched user comes online, goes offline or changes status.
/// </summary>
/// <remarks>
/// Thread-safety in one sentence: the watcher index is a <see cref="SetIndex{T}"/> (safe for any thread) and a
/// connection's own watch list is guarded by locking that list.
/// </remarks>
internal sealed class PresenceService
{
    private readonly SetIndex<RelayConnection> _watchers = new(ReferenceEqualityComparer.Instance);
    private readonly IPresenceRegistry _presence;
    private readonly IPresencePolicy _policy;
    private readonly GroupMessageRouter _router;
    private readonly GroupRelayOptions _options;
    private readonly ILogger _logger;

    public PresenceService(IPresenceRegistry presence, IPresencePolicy policy, GroupMessageRouter router, GroupRelayOptions options, ILogger logger)
    {
        _presence = presence;
        _policy = policy;
        _router = router;
        _options = options;
        _logger = logger;
    }

    /// <summary>Number of users watched by at least one connection (for tests: zero once everyone left).</summary>
    public int WatchedUserCount => _watchers.KeyCount;

    /// <summary>Handles <c>watch</c>: returns the <c>presence</c> result frame, or an error message when over the bound.</summary>
    public async ValueTask<(byte[]? Frame, string? Error)> WatchAsync(RelayConnection connection, string? id, List<string> users, CancellationToken cancellationToken)
    {
        var distinct = new List<string>(users.Count);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (string user in users)
        {
            if (seen.Add(user))
            {
                distinct.Add(user);
            }
        }

        lock (connection.Watched)
        {
            int newOnes = 0;
            foreach (string user in distinct)
            {
                if (!connection.Watched.Contains(user))
                {
                    newOnes++;
                }
            }

            if (connection.Watched.Count + newOnes > _options.MaxWatchedUsers)
            {
                return (null, $"a connection may watch at most {_options.MaxWatchedUsers} users; it watches {connection.Watched.Count} and this request adds {newOnes}");
            }
        }

        IReadOnlySet<string> allowed = await _policy.GetAllowedAsync(connection.UserId, distinct, cancellationToken).ConfigureAwait(false);
        var online = new List<(string, string?)>();
        var offline = new List<string>();
        var forbidden = new List<string>();
        foreach (string user in distinct)
        {
            if (!allowed.Contains(user))
            {
                forbidden.Add(user);
                continue;
            }

            // Register before reading the state, so a change right after the read still reaches this connection.
            lock (connection.Watched)
            {
                if (connection.IsClosing)
                {
                    break;
                }

                if (connection.Watched.Add(user))
                {
                    _watchers.Add(user, connection, out _);
                }
            }

            PresenceState state = await _presence.GetStateAsync(user, cancellationToken).ConfigureAwait(false);
            if (state.IsOnline)
            {
                online.Add((user, state.Status));
            }
            else
            {
                offline.Add(user);
            }
        }

        return (FrameWriter.PresenceResult(id, online, offline, forbidden), null);
    }

    public void Unwatch(RelayConnection connection, IEnumerable<string> users)
    {
        lock (connection.Watched)
        {
            foreach (string user in users)
            {
                if (connection.Watched.Remove(user))
                {
                    _watchers.Remove(user, connection, out _);
                }
            }
        }
    }

    /// <summary>Removes everything a closed connection watched. Costs O(users it watched).</summary>
    public void RemoveWatcher(RelayConnection connection)
    {
        lock (connection.Watched)
        {
            foreach (string user in connection.Watched)
            {
                _watchers.Remove(user, connection, out _);
            }

            connection.Watched.Clear();
        }
    }

    /// <summary>A scale-out backplane, or null for the in-process default (events are then queued here directly).</summary>
    public IRelayBackplane? Backplane { get; set; }

    /// <summary>Pushes a <c>presence</c> event about <paramref name="userId"/> to every connection watching it (on every node).</summary>
    public void Notify(string userId, bool online, string? status)
    {
        if (Backplane is not null)
        {
            Backplane.PublishPresence(userId, online, status);
            return;
        }

        NotifyLocal(userId, online, status);
    }

    /// <summary>Pushes a <c>presence</c> event about <paramref name="userId"/> to every connection of this process watching it.</summary>
    public void NotifyLocal(string userId, bool online, string? status)
    {
        RelayConnection[] watchers = _watchers.Get(userId);
        if (watchers.Length == 0)
        {
            return;
        }

        try
        {
            byte[] frame = FrameWriter.PresenceEvent(userId, online, status);
            foreach (RelayConnection watcher in watchers)
            {
                _router.Queue(watcher, frame);
            }
        }
        catch (Exception ex)
        {
            GroupRelayLog.EventFailed(_logger, userId, ex);
        }
    }
}
