using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;

namespace GroupRelay.Internal;

/// <summary>
/// Presence on this node (PROTOCOL.md section 3, <c>watch</c>): who watches whom, the answer to <c>watch</c>, and the
/// <c>presence</c> events pushed to this node's watchers when a watched user comes online, goes offline or changes
/// status. What carries a change to every node's watchers is the backplane; this is where it lands.
/// </summary>
/// <remarks>
/// Thread-safety in one sentence: the watcher index is a <see cref="SetIndex{T}"/> (safe for any thread) and each
/// connection's <see cref="WatchList"/> is guarded by its own lock, which this class alone takes.
/// </remarks>
internal sealed class PresenceWatchers
{
    private readonly SetIndex<WatchList> _watchers = new(ReferenceEqualityComparer.Instance);
    private readonly IPresenceRegistry _presence;
    private readonly IPresencePolicy _policy;
    private readonly HostCalls _hostCalls;
    private readonly GroupRelayOptions _options;
    private readonly ILogger _logger;

    public PresenceWatchers(IPresenceRegistry presence, IPresencePolicy policy, HostCalls hostCalls, GroupRelayOptions options, ILogger logger)
    {
        _presence = presence;
        _policy = policy;
        _hostCalls = hostCalls;
        _options = options;
        _logger = logger;
    }

    /// <summary>Number of users watched by at least one connection of this node (zero once everyone left).</summary>
    public int WatchedUserCount => _watchers.KeyCount;

    /// <summary>
    /// Handles <c>watch</c>: queues the <c>presence</c> result (then any change that came in while it was being
    /// built), or returns the error to answer: <c>bad_request</c> over the bound, <c>internal</c> when the presence
    /// policy did not answer within <see cref="GroupRelayOptions.PresencePolicyTimeout"/>.
    /// </summary>
    public async ValueTask<(string Code, string Message)?> WatchAsync(WatchList list, string? id, List<string> users, CancellationToken cancellationToken)
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

        lock (list)
        {
            int newOnes = 0;
            foreach (string user in distinct)
            {
                if (!list.Watched.ContainsKey(user))
                {
                    newOnes++;
                }
            }

            if (list.Watched.Count + newOnes > _options.MaxWatchedUsers)
            {
                return (RelayErrorCodes.BadRequest, $"a connection may watch at most {_options.MaxWatchedUsers} users; it watches {list.Watched.Count} and this request adds {newOnes}");
            }
        }

        RelayConnection connection = list.Connection;
        IReadOnlySet<string> allowed;
        try
        {
            // The relay stops waiting at the timeout whether or not the policy honours its token.
            allowed = await _hostCalls.InvokeAsync(
                "presence policy",
                connection.UserId,
                static (s, token) => s.Policy.GetAllowedAsync(s.UserId, s.Users, token),
                (Policy: _policy, connection.UserId, Users: (IReadOnlyCollection<string>)distinct),
                _options.PresencePolicyTimeout,
                cancellationToken).ConfigureAwait(false);
        }
        catch (HostCallTimeoutException)
        {
            GroupRelayLog.PresencePolicyTimedOut(_logger, connection.UserId, _options.PresencePolicyTimeout, connection.ConnectionId);
            return (RelayErrorCodes.Internal, "the server could not decide in time whom this connection may watch; try again later");
        }

        var online = new List<(string, string?)>();
        var offline = new List<string>();
        var forbidden = new List<string>();
        var answered = new List<(string User, PresenceState State)>();
        foreach (string user in distinct)
        {
            if (!allowed.Contains(user))
            {
                forbidden.Add(user);
                continue;
            }

            // Register before reading the state, so a change right after the read still reaches this connection.
            lock (list)
            {
                if (connection.IsClosing)
                {
                    break;
                }

                if (list.Watched.TryAdd(user, null))
                {
                    _watchers.Add(user, list, out _);
                }
            }

            PresenceState state = await _presence.GetStateAsync(user, cancellationToken).ConfigureAwait(false);
            answered.Add((user, state));
            if (state.IsOnline)
            {
                online.Add((user, state.Status));
            }
            else
            {
                offline.Add(user);
            }
        }

        byte[] result = FrameWriter.PresenceResult(id, online, offline, forbidden);
        lock (list)
        {
            // The result comes first; a change that arrived while it was being built (held back in Pending) follows it
            // when it differs from what the result said, so the client ends on the newest state.
            connection.Outbound.TryEnqueue(result);
            foreach ((string user, PresenceState state) in answered)
            {
                if (!list.Watched.ContainsKey(user))
                {
                    continue;
                }

                list.Watched[user] = state;
                if (list.Pending is { } pending && pending.Remove(user, out PresenceState change) && change != state)
                {
                    list.Watched[user] = change;
                    connection.Outbound.TryEnqueue(FrameWriter.PresenceEvent(user, change.IsOnline, change.Status));
                }
            }
        }

        return null;
    }

    /// <summary>Handles <c>unwatch</c>.</summary>
    public void Unwatch(WatchList list, IEnumerable<string> users)
    {
        lock (list)
        {
            foreach (string user in users)
            {
                list.Pending?.Remove(user);
                if (list.Watched.Remove(user))
                {
                    _watchers.Remove(user, list, out _);
                }
            }
        }
    }

    /// <summary>Removes everything a closed connection watched. Costs O(users it watched).</summary>
    public void Remove(WatchList list)
    {
        lock (list)
        {
            foreach (string user in list.Watched.Keys)
            {
                _watchers.Remove(user, list, out _);
            }

            list.Watched.Clear();
            list.Pending?.Clear();
        }
    }

    /// <summary>Pushes a <c>presence</c> event about <paramref name="userId"/> to every connection of this node watching it.</summary>
    public void NotifyLocal(string userId, bool online, string? status)
    {
        WatchList[] watchers = _watchers.Get(userId);
        if (watchers.Length == 0)
        {
            return;
        }

        try
        {
            var state = new PresenceState(online, status);
            byte[]? frame = null;
            foreach (WatchList watcher in watchers)
            {
                lock (watcher)
                {
                    if (!watcher.Watched.TryGetValue(userId, out PresenceState? told))
                    {
                        continue;
                    }

                    if (told is null)
                    {
                        // Its watch result is still being built: hold the change back so it cannot overtake the result.
                        (watcher.Pending ??= new Dictionary<string, PresenceState>(StringComparer.Ordinal))[userId] = state;
                        continue;
                    }

                    // Only changes are pushed: an event that repeats what this watcher was last told (for example an
                    // 'online' that crossed a backplane after the watch result already said so) is not sent again.
                    if (told == state)
                    {
                        continue;
                    }

                    watcher.Watched[userId] = state;
                    watcher.Connection.Outbound.TryEnqueue(frame ??= FrameWriter.PresenceEvent(userId, online, status));
                }
            }
        }
        catch (Exception ex)
        {
            GroupRelayLog.EventFailed(_logger, userId, ex);
        }
    }
}

/// <summary>
/// The users one connection watches, with the state it last told the client about each (null: not told yet), so only
/// changes are pushed. Owned by its <see cref="Transports.RelaySession"/>; read and written only by
/// <see cref="PresenceWatchers"/>, under a lock on this object.
/// </summary>
internal sealed class WatchList
{
    private Dictionary<string, PresenceState?>? _watched;

    public WatchList(RelayConnection connection) => Connection = connection;

    public RelayConnection Connection { get; }

    /// <summary>Created on the first <c>watch</c>: most connections never watch anyone, and an idle connection should cost little.</summary>
    public Dictionary<string, PresenceState?> Watched => _watched ??= new Dictionary<string, PresenceState?>(StringComparer.Ordinal);

    /// <summary>Changes of watched users that arrived while their watch result was being built.</summary>
    public Dictionary<string, PresenceState>? Pending { get; set; }
}
