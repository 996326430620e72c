using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using GroupRelay.ScaleOut;
using GroupRelay.Transports;
using Microsoft.Extensions.Logging;

namespace GroupRelay.Internal;

/// <summary>
/// A connection's life (PROTOCOL.md section 2): load the user's groups from the host, register the connection on this
/// node, then announce what changed to everyone through the backplane; on close, the reverse. Also the run-time
/// membership changes of <see cref="IGroupRelay"/>, with the same two steps: apply (on every node), then announce.
/// </summary>
/// <remarks>
/// Thread-safety in one sentence: every change that concerns one user runs under that user's <see cref="UserGate"/>
/// stripe (taken here for connect and disconnect, by <see cref="LocalMembership"/> for run-time changes), so a connect,
/// a disconnect and a membership change of the same user never interleave.
/// </remarks>
internal sealed class RelayLifecycle
{
    private readonly ConcurrentDictionary<string, RelayConnection> _connections = new(StringComparer.Ordinal);

    /// <summary>Users whose last connection closed less than <see cref="GroupRelayOptions.PresenceGracePeriod"/> ago; changed under the user's gate.</summary>
    private readonly ConcurrentDictionary<string, Leaving> _leaving = new(StringComparer.Ordinal);
    private readonly MembershipLoader _loader;
    private readonly LocalMembership _local;
    private readonly IRelayBackplane _backplane;
    private readonly RelayMetrics _metrics;
    private readonly GroupRelayOptions _options;
    private readonly ILogger _logger;
    private readonly IPresenceRegistry _presence;
    private readonly TimeProvider _clock;
    private long _nextConnectionId;
    private bool _stopping;

    public RelayLifecycle(MembershipLoader loader, LocalMembership local, IRelayBackplane backplane, IPresenceRegistry presence, RelayMetrics metrics, GroupRelayOptions options, TimeProvider clock, ILogger logger)
    {
        _presence = presence;
        _clock = clock;
        _loader = loader;
        _local = local;
        _backplane = backplane;
        _metrics = metrics;
        _options = options;
        _logger = logger;
    }

    public int ConnectionCount => _connections.Count;

    /// <summary>True once the host began to stop (<see cref="CloseAllAsync"/>): the relay no longer serves new connections for long.</summary>
    public bool IsStopping => Volatile.Read(ref _stopping);

    /// <summary>
    /// Open connections, how many are behind (more queued than <see cref="GroupRelayOptions.MaxQueueBytes"/> or
    /// <see cref="GroupRelayOptions.MaxQueueFrames"/>: slow consumers on their way to 4001), and the bytes queued in all. O(connections); for health checks, not hot paths.
    /// </summary>
    public (int Connections, int Behind, long QueuedBytes) QueuePressure()
    {
        int connections = 0, behind = 0;
        long queued = 0;
        foreach (RelayConnection connection in _connections.Values)
        {
            long bytes = connection.Outbound.QueuedBytes;
            connections++;
            queued += bytes;
            if (connection.Outbound.IsBehind)
            {
                behind++;
            }
        }

        return (connections, behind, queued);
    }

    /// <summary>
    /// Accepts a connection: loads membership, registers it, and queues <c>welcome</c> as its first frame.
    /// On failure the connection is already closing (1011) when this returns.
    /// </summary>
    public async Task<RelayConnection> ConnectAsync(string userId, IRelaySocket socket, RelayAdmission? admission, CancellationToken cancellationToken)
    {
        string connectionId = "c-" + Interlocked.Increment(ref _nextConnectionId).ToString("x", System.Globalization.CultureInfo.InvariantCulture) + "-" + Guid.NewGuid().ToString("N")[..8];
        var connection = new RelayConnection(connectionId, userId, socket, _options, _logger, _metrics) { Admission = admission?.HandOver() };
        _connections[connectionId] = connection;
        _metrics.ConnectionOpened();
        using Activity? activity = RelayTracing.StartConnect(connectionId, userId);
        try
        {
            if (admission is { IsAdmitted: false })
            {
                // The transport could not refuse the handshake itself (it accepts first): the refusal is this close.
                connection.Outbound.RequestClose(RelayCloseCodes.TryAgainLater, "connection limit", discardQueued: true);
            }
            else
            {
                await RegisterAsync(connection, connectionId, userId, admission?.Membership, cancellationToken).ConfigureAwait(false);
            }

            if (connection.IsClosing)
            {
                RelayTracing.Fail(activity, connection.Outbound.CloseCode.ToString(System.Globalization.CultureInfo.InvariantCulture), connection.Outbound.CloseReason);
            }

            return connection;
        }
        finally
        {
            // The writer starts only now, so welcome (queued first) leaves once the connection is in the online list
            // and the group index, as PROTOCOL.md requires; a failed connection's writer sends its close frame.
            connection.Outbound.Start();
        }
    }

    private async Task<RelayConnection> RegisterAsync(RelayConnection connection, string connectionId, string userId, MembershipLoad? preloaded, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(userId) || userId.Length > _options.MaxIdLength)
        {
            GroupRelayLog.InvalidUserId(_logger, connectionId, _options.MaxIdLength);
            connection.Outbound.RequestClose(RelayCloseCodes.InternalError, "invalid user id", discardQueued: true);
            return connection;
        }

        string[]? groups = preloaded is { } load
            ? MembershipLoader.Apply(connection, load)
            : await _loader.LoadGroupsAsync(connection, cancellationToken).ConfigureAwait(false);
        if (groups is null)
        {
            return connection;
        }

        // The streams' positions are read before the connection becomes reachable, so a message published meanwhile has
        // a seq above them: a client sees it live or asks history for it (PROTOCOL.md section 6).
        IReadOnlyList<StreamPosition> positions = await _backplane.GetPositionsAsync(groups, CancellationToken.None).ConfigureAwait(false);

        // Once begun, registration runs to the end (CancellationToken.None): half a registration would leak entries.
        using (await _local.Gate.EnterAsync(userId, CancellationToken.None).ConfigureAwait(false))
        {
            if (connection.IsClosing)
            {
                return connection;
            }

            LocalRegistration registration = await _local.RegisterAsync(connection, groups, positions, FrameWriter.Welcome(connectionId, userId, groups, positions)).ConfigureAwait(false);
            if (registration.WasOnlineHere)
            {
                // The host's data changed since the user's other connections loaded it: they followed ('added'/
                // 'removed'), and the group's other members learn it as with the server API.
                AnnounceMembers(registration.Added, userId, joined: true);
                AnnounceMembers(registration.Removed, userId, joined: false);
            }
            else if (registration.FirstAnywhere && _leaving.TryRemove(userId, out Leaving? leaving))
            {
                // Back within the presence grace period: nobody was told the user left, so nobody is told it joined;
                // only what changed in the host's data meanwhile is announced.
                leaving.Timer.Dispose();
                AnnounceMembers(groups.Except(leaving.Groups, StringComparer.Ordinal), userId, joined: true);
                AnnounceMembers(leaving.Groups.Except(groups, StringComparer.Ordinal), userId, joined: false);
            }
            else if (registration.FirstAnywhere)
            {
                // First connection anywhere (with a scale-out backplane the user may already be online on another node).
                AnnounceMembers(groups, userId, joined: true);
                _backplane.PublishPresence(userId, online: true, status: null);
            }
        }

        GroupRelayLog.ConnectionOpened(_logger, connectionId, userId, groups.Length);
        return connection;
    }

    /// <summary>Removes a closed connection from everything; when it was the user's last anywhere, the user goes offline.</summary>
    public async Task DisconnectAsync(RelayConnection connection)
    {
        if (!_connections.TryRemove(connection.ConnectionId, out _))
        {
            return;
        }

        connection.Outbound.TransportEnded();
        connection.Admission?.Release();
        int closeCode = connection.Outbound.CloseCode;
        _metrics.ConnectionClosed(closeCode == 0 ? RelayCloseCodes.Normal : closeCode, DateTimeOffset.UtcNow - connection.ConnectedAt);
        GroupRelayLog.ConnectionClosed(_logger, connection.ConnectionId, connection.UserId, closeCode, closeCode == 0 ? "closed by the client" : connection.Outbound.CloseReason);
        try
        {
            using (await _local.Gate.EnterAsync(connection.UserId, CancellationToken.None).ConfigureAwait(false))
            {
                (bool last, IReadOnlyCollection<string> groups) = await _local.UnregisterAsync(connection).ConfigureAwait(false);
                if (last && _options.PresenceGracePeriod > TimeSpan.Zero)
                {
                    // Held back for the grace period: a page reload comes back within it and causes no left/joined and
                    // no offline/online events. The user is out of the online list meanwhile; only the events wait.
                    var leaving = new Leaving(this, connection.UserId, groups.ToArray());
                    leaving.Timer = _clock.CreateTimer(static state => _ = ((Leaving)state!).Owner.LeftForGoodAsync((Leaving)state!), leaving, _options.PresenceGracePeriod, Timeout.InfiniteTimeSpan);
                    if (_leaving.TryGetValue(connection.UserId, out Leaving? earlier))
                    {
                        earlier.Timer.Dispose();
                    }

                    _leaving[connection.UserId] = leaving;
                }
                else if (last)
                {
                    AnnounceLeft(connection.UserId, groups);
                }
            }
        }
        catch (Exception ex)
        {
            GroupRelayLog.UnregisterFailed(_logger, connection.ConnectionId, connection.UserId, ex);
        }
    }

    /// <summary>
    /// A run-time membership change (<see cref="IGroupRelay.AddUserToGroupAsync"/> and its reverse): applied on every node
    /// that holds a connection of the user, then announced once. Returns false when nothing changed.
    /// </summary>
    public async Task<bool> ChangeMembershipAsync(string userId, string groupId, bool add, CancellationToken cancellationToken)
    {
        if (!await _backplane.ChangeMembershipAsync(userId, groupId, add, cancellationToken).ConfigureAwait(false))
        {
            return false;
        }

        AnnounceMembers(new[] { groupId }, userId, add);
        return true;
    }

    /// <summary>Closes every connection with <paramref name="closeCode"/> and waits (bounded by CloseTimeout) until they are gone.</summary>
    public async Task CloseAllAsync(int closeCode, string reason, CancellationToken cancellationToken)
    {
        Volatile.Write(ref _stopping, true);
        RelayConnection[] all = _connections.Values.ToArray();
        if (all.Length == 0)
        {
            return;
        }

        GroupRelayLog.ShuttingDown(_logger, all.Length);
        foreach (RelayConnection connection in all)
        {
            connection.Outbound.RequestClose(closeCode, reason, discardQueued: false);
        }

        try
        {
            await Task.WhenAll(all.Select(c => c.Outbound.Completion)).WaitAsync(_options.CloseTimeout + TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // Each writer aborts its own socket at CloseTimeout; nothing more to wait for.
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The host stopped waiting (its shutdown timeout): the writers still abort their sockets at CloseTimeout,
            // and stopping must not fail because some clients were slow to answer.
        }
    }

    /// <summary>Users whose left/offline events are held back by the presence grace period (for tests).</summary>
    internal int LeavingCount => _leaving.Count;

    private void AnnounceLeft(string userId, IReadOnlyCollection<string> groups)
    {
        AnnounceMembers(groups, userId, joined: false);
        _backplane.PublishPresence(userId, online: false, status: null);
    }

    /// <summary>
    /// The grace period of a user who left ran out: unless the user came back (here, which removed the entry, or on
    /// another node, which the online list shows), its members and watchers are told now.
    /// </summary>
    private async Task LeftForGoodAsync(Leaving leaving)
    {
        try
        {
            using (await _local.Gate.EnterAsync(leaving.UserId, CancellationToken.None).ConfigureAwait(false))
            {
                if (!_leaving.TryRemove(new KeyValuePair<string, Leaving>(leaving.UserId, leaving)))
                {
                    return;
                }

                leaving.Timer.Dispose();
                if (!(await _presence.GetStateAsync(leaving.UserId).ConfigureAwait(false)).IsOnline)
                {
                    AnnounceLeft(leaving.UserId, leaving.Groups);
                }
            }
        }
        catch (Exception ex)
        {
            GroupRelayLog.EventFailed(_logger, leaving.UserId, ex);
        }
    }

    private void AnnounceMembers(IEnumerable<string> groups, string userId, bool joined)
    {
        if (!_options.SendJoinLeaveEvents)
        {
            return;
        }

        foreach (string group in groups)
        {
            _backplane.PublishMemberEvent(group, userId, joined);
        }
    }

    /// <summary>A user in its presence grace period: the groups it was in, and the timer that ends the period.</summary>
    private sealed class Leaving(RelayLifecycle owner, string userId, string[] groups)
    {
        public RelayLifecycle Owner { get; } = owner;

        public string UserId { get; } = userId;

        public string[] Groups { get; } = groups;

        /// <summary>Set right after construction, under the user's gate; the timer callback takes the same gate first.</summary>
        public ITimer Timer { get; set; } = null!;
    }
}
