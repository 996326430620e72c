using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;

namespace GroupRelay.Internal;

/// <summary>
/// Steps (1) to (3) of the method, and their reverse: load a user's groups from the host, put the connection in the
/// online list and the user in each group's member list, tell the others; on close, take it all out again.
/// Also applies membership changes made at run time through <see cref="IGroupRelay"/>.
/// </summary>
/// <remarks>
/// Thread-safety in one sentence: every change that concerns one user runs under that user's <see cref="UserGate"/>
/// stripe, so a connect, a disconnect and a membership change of the same user never interleave.
/// </remarks>
internal sealed class RelayLifecycle
{
    private readonly ConcurrentDictionary<string, RelayConnection> _connections = new(StringComparer.Ordinal);
    private readonly UserGate _gate = new();
    private readonly IMembershipSource _membership;
    private readonly IPresenceRegistry _presence;
    private readonly IGroupDirectory _directory;
    private readonly GroupMessageRouter _router;
    private readonly PresenceService _presenceService;
    private readonly RelayMetrics _metrics;
    private readonly GroupRelayOptions _options;
    private readonly ILogger _logger;
    private long _nextConnectionId;

    public RelayLifecycle(IMembershipSource membership, IPresenceRegistry presence, IGroupDirectory directory, GroupMessageRouter router, PresenceService presenceService, RelayMetrics metrics, GroupRelayOptions options, ILogger logger)
    {
        _membership = membership;
        _presence = presence;
        _directory = directory;
        _router = router;
        _presenceService = presenceService;
        _metrics = metrics;
        _options = options;
        _logger = logger;
    }

    public int ConnectionCount => _connections.Count;

    public ICollection<RelayConnection> Connections => _connections.Values;

    public UserGate Gate => _gate;

    /// <summary>A scale-out backplane, or null for the in-process default (events are then queued here directly).</summary>
    public IRelayBackplane? Backplane { get; set; }

    /// <summary>
    /// Accepts a connection: loads membership, registers it, and queues <c>welcome</c> as its first frame.
    /// On failure the connection is already closing (1011) when this returns.
    /// </summary>
    public async Task<RelayConnection> ConnectAsync(string userId, IRelaySocket socket, CancellationToken cancellationToken)
    {
        string connectionId = "c-" + Interlocked.Increment(ref _nextConnectionId).ToString("x", System.Globalization.CultureInfo.InvariantCulture) + "-" + Guid.NewGuid().ToString("N")[..8];
        var connection = new RelayConnection(connectionId, userId, socket, _options, _logger);
        _connections[connectionId] = connection;
        _metrics.ConnectionOpened();
        try
        {
            return await RegisterAsync(connection, connectionId, userId, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            // The writer starts only now, so welcome (queued first) leaves once the connection is in the online list
            // and the group index, as PROTOCOL.md requires; a failed connection's writer sends its close frame.
            connection.Outbound.Start();
        }
    }

    private async Task<RelayConnection> RegisterAsync(RelayConnection connection, string connectionId, string userId, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(userId) || userId.Length > _options.MaxIdLength)
        {
            GroupRelayLog.InvalidUserId(_logger, connectionId, _options.MaxIdLength);
            connection.Outbound.RequestClose(RelayCloseCodes.InternalError, "invalid user id", discardQueued: true);
            return connection;
        }

        string[] groups;
        using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            timeout.CancelAfter(_options.MembershipTimeout);
            try
            {
                IReadOnlyCollection<string> loaded = await _membership.GetGroupsAsync(userId, timeout.Token).ConfigureAwait(false)
                    ?? throw new GroupRelayException($"{_membership.GetType().Name}.GetGroupsAsync returned null for a user.");
                groups = loaded.Where(g => !string.IsNullOrEmpty(g) && g.Length <= _options.MaxIdLength).Distinct(StringComparer.Ordinal).ToArray();
            }
            catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                GroupRelayLog.MembershipTimedOut(_logger, userId, _options.MembershipTimeout, connectionId);
                connection.Outbound.RequestClose(RelayCloseCodes.InternalError, "membership source timed out", discardQueued: true);
                return connection;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // The client went away while its groups were loading: nothing failed, nothing to register.
                GroupRelayLog.HandshakeAbandoned(_logger, connectionId, userId);
                connection.Outbound.RequestClose(RelayCloseCodes.Normal, "client went away", discardQueued: true);
                return connection;
            }
            catch (Exception ex)
            {
                GroupRelayLog.MembershipFailed(_logger, userId, connectionId, ex);
                connection.Outbound.RequestClose(RelayCloseCodes.InternalError, "membership source failed", discardQueued: true);
                return connection;
            }
        }

        // Once begun, registration runs to the end (CancellationToken.None): half a registration would leak entries.
        using (await _gate.EnterAsync(userId, CancellationToken.None).ConfigureAwait(false))
        {
            if (connection.IsClosing)
            {
                return connection;
            }

            // Local, not global: the group index of this process must be filled for this user whether or not the user
            // is online on another node. With one process the two are the same.
            bool wasOnline = _presence.GetLocalConnections(userId).Count > 0;
            IReadOnlyCollection<string> current = wasOnline ? await _directory.GetGroupsAsync(userId, CancellationToken.None).ConfigureAwait(false) : Array.Empty<string>();
            var currentSet = new HashSet<string>(current, StringComparer.Ordinal);
            var loadedSet = new HashSet<string>(groups, StringComparer.Ordinal);
            var added = groups.Where(g => !currentSet.Contains(g)).ToList();
            var removed = current.Where(g => !loadedSet.Contains(g)).ToList();
            foreach (string group in added)
            {
                // 'added' reaches the user's other connections before the first message of the group can.
                QueueToOwnConnections(userId, FrameWriter.MembershipEvent(added: true, group));
                await _directory.AddMemberAsync(group, userId, CancellationToken.None).ConfigureAwait(false);
            }

            foreach (string group in removed)
            {
                await _directory.RemoveMemberAsync(group, userId, CancellationToken.None).ConfigureAwait(false);
                QueueToOwnConnections(userId, FrameWriter.MembershipEvent(added: false, group));
            }

            // Welcome goes into the queue before the connection becomes reachable, so it is always the first frame.
            _router.Queue(connection, FrameWriter.Welcome(connectionId, userId, groups));
            bool first = await _presence.AddConnectionAsync(connection, CancellationToken.None).ConfigureAwait(false);

            if (wasOnline)
            {
                // The host's data changed since the user's other connections loaded it: they followed above ('added'/
                // 'removed'), and the group's other members learn it as with the server API.
                foreach (string group in added)
                {
                    AnnounceMember(group, userId, joined: true);
                }

                foreach (string group in removed)
                {
                    AnnounceMember(group, userId, joined: false);
                }
            }
            else if (first)
            {
                // First connection anywhere (with a backplane the user may already be online on another node).
                foreach (string group in groups)
                {
                    AnnounceMember(group, userId, joined: true);
                }

                _presenceService.Notify(userId, online: true, status: null);
            }
        }

        GroupRelayLog.ConnectionOpened(_logger, connectionId, userId, groups.Length);
        return connection;
    }

    /// <summary>Removes a closed connection from everything; when it was the user's last, the user goes offline.</summary>
    public async Task DisconnectAsync(RelayConnection connection)
    {
        if (!_connections.TryRemove(connection.ConnectionId, out _))
        {
            return;
        }

        connection.Outbound.TransportEnded();
        int closeCode = connection.Outbound.CloseCode;
        _metrics.ConnectionClosed(closeCode == 0 ? RelayCloseCodes.Normal : closeCode);
        GroupRelayLog.ConnectionClosed(_logger, connection.ConnectionId, connection.UserId, closeCode, closeCode == 0 ? "closed by the client" : connection.Outbound.CloseReason);
        _presenceService.RemoveWatcher(connection);
        try
        {
            using (await _gate.EnterAsync(connection.UserId, CancellationToken.None).ConfigureAwait(false))
            {
                bool last = await _presence.RemoveConnectionAsync(connection).ConfigureAwait(false);

                // Also when the connection never became reachable (closed while connecting): leave nothing behind.
                // Local, not global: the user may still be online on another node, which keeps its own index.
                if (_presence.GetLocalConnections(connection.UserId).Count == 0)
                {
                    IReadOnlyCollection<string> groups = await _directory.RemoveUserAsync(connection.UserId).ConfigureAwait(false);
                    if (last)
                    {
                        foreach (string group in groups)
                        {
                            AnnounceMember(group, connection.UserId, joined: false);
                        }

                        _presenceService.Notify(connection.UserId, online: false, status: null);
                    }
                }
            }
        }
        catch (Exception ex)
        {
            GroupRelayLog.UnregisterFailed(_logger, connection.ConnectionId, connection.UserId, ex);
        }
    }

    /// <summary>Adds an online user to a group at run time. Returns false when the user is offline or already a member.</summary>
    public async Task<bool> AddUserToGroupAsync(string userId, string groupId, CancellationToken cancellationToken)
    {
        using (await _gate.EnterAsync(userId, cancellationToken).ConfigureAwait(false))
        {
            if (!(await _presence.GetStateAsync(userId, cancellationToken).ConfigureAwait(false)).IsOnline
                || await _directory.IsMemberAsync(groupId, userId, cancellationToken).ConfigureAwait(false))
            {
                return false;
            }

            // 'added' is queued before the user becomes routable in the group, so no message of the group overtakes it.
            QueueToOwnConnections(userId, FrameWriter.MembershipEvent(added: true, groupId));
            await _directory.AddMemberAsync(groupId, userId, cancellationToken).ConfigureAwait(false);
            AnnounceMember(groupId, userId, joined: true);
            return true;
        }
    }

    /// <summary>Removes an online user from a group at run time. Returns false when it was not an online member.</summary>
    public async Task<bool> RemoveUserFromGroupAsync(string userId, string groupId, CancellationToken cancellationToken)
    {
        using (await _gate.EnterAsync(userId, cancellationToken).ConfigureAwait(false))
        {
            if (!await _directory.RemoveMemberAsync(groupId, userId, cancellationToken).ConfigureAwait(false))
            {
                return false;
            }

            QueueToOwnConnections(userId, FrameWriter.MembershipEvent(added: false, groupId));
            AnnounceMember(groupId, userId, joined: false);
            return true;
        }
    }

    /// <summary>
    /// The part of a run-time membership change that concerns this process (called by a backplane on every node that
    /// holds a connection of the user): the group index and <c>added</c>/<c>removed</c> to the user's connections here.
    /// </summary>
    public async Task<bool> ApplyLocalMembershipChangeAsync(string userId, string groupId, bool add, CancellationToken cancellationToken)
    {
        using (await _gate.EnterAsync(userId, cancellationToken).ConfigureAwait(false))
        {
            if (_presence.GetLocalConnections(userId).Count == 0)
            {
                return false;
            }

            if (add)
            {
                if (await _directory.IsMemberAsync(groupId, userId, cancellationToken).ConfigureAwait(false))
                {
                    return false;
                }

                // Queued before the user becomes routable in the group, so no message of the group overtakes it.
                QueueToOwnConnections(userId, FrameWriter.MembershipEvent(added: true, groupId));
                await _directory.AddMemberAsync(groupId, userId, cancellationToken).ConfigureAwait(false);
                return true;
            }

            if (!await _directory.RemoveMemberAsync(groupId, userId, cancellationToken).ConfigureAwait(false))
            {
                return false;
            }

            QueueToOwnConnections(userId, FrameWriter.MembershipEvent(added: false, groupId));
            return true;
        }
    }

    /// <summary>Closes every connection with <paramref name="closeCode"/> and waits (bounded by CloseTimeout) until they are gone.</summary>
    public async Task CloseAllAsync(int closeCode, string reason, CancellationToken cancellationToken)
    {
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
    }

    /// <summary>Queues an <c>added</c>/<c>removed</c> frame to every connection of the user in this process.</summary>
    private void QueueToOwnConnections(string userId, byte[] frame)
    {
        foreach (RelayConnection connection in _presence.GetLocalConnections(userId))
        {
            _router.Queue(connection, frame);
        }
    }

    private void AnnounceMember(string groupId, string userId, bool joined)
    {
        if (!_options.SendJoinLeaveEvents)
        {
            return;
        }

        if (Backplane is not null)
        {
            Backplane.PublishMemberEvent(groupId, userId, joined);
            return;
        }

        ValueTask<IReadOnlyList<string>> pending = _directory.GetMembersAsync(groupId);
        if (pending.IsCompletedSuccessfully)
        {
            Send(pending.Result);
        }
        else
        {
            _ = SendLaterAsync(pending);
        }

        void Send(IReadOnlyList<string> members)
        {
            if (members.Count > (joined ? 1 : 0))
            {
                _router.QueueToMembers(members, FrameWriter.MemberEvent(joined, groupId, userId), skipUser: userId);
            }
        }

        async Task SendLaterAsync(ValueTask<IReadOnlyList<string>> task)
        {
            try
            {
                Send(await task.ConfigureAwait(false));
            }
            catch (Exception ex)
            {
                GroupRelayLog.EventFailed(_logger, userId, ex);
            }
        }
    }
}
