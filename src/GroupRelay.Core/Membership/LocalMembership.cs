using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using GroupRelay.ScaleOut;

namespace GroupRelay.Internal;

/// <summary>What registering a connection changed on this node (see <see cref="LocalMembership.RegisterAsync"/>).</summary>
/// <param name="FirstAnywhere">The user came online: this is its first connection on any node.</param>
/// <param name="WasOnlineHere">The user already had a connection on this node (its groups were reconciled).</param>
/// <param name="Added">Groups the host's data added since the user's other connections here loaded it.</param>
/// <param name="Removed">Groups the host's data removed since then.</param>
internal readonly record struct LocalRegistration(bool FirstAnywhere, bool WasOnlineHere, IReadOnlyList<string> Added, IReadOnlyList<string> Removed);

/// <summary>
/// This node's side of membership: puts a connection in the online list and its user in the group index, takes them
/// out again, and applies run-time membership changes, queuing <c>added</c>/<c>removed</c> to the user's connections
/// here. Announcing the change to others (<c>joined</c>/<c>left</c>, presence) is the caller's second step, through the
/// backplane: "apply locally, then announce".
/// </summary>
/// <remarks>
/// Thread-safety in one sentence: every change concerning one user runs under that user's stripe of <see cref="Gate"/>;
/// <see cref="RegisterAsync"/> and <see cref="UnregisterAsync"/> expect the caller to hold it (so its announcements are
/// made under it too), <see cref="ApplyChangeAsync"/> enters it itself.
/// </remarks>
internal sealed class LocalMembership
{
    private readonly IPresenceRegistry _presence;
    private readonly IGroupDirectory _directory;

    public LocalMembership(IPresenceRegistry presence, IGroupDirectory directory, UserGate gate)
    {
        _presence = presence;
        _directory = directory;
        Gate = gate;
    }

    /// <summary>Serialises the changes that concern one user.</summary>
    public UserGate Gate { get; }

    /// <summary>
    /// Registers a connection whose groups were loaded: reconciles the group index with <paramref name="groups"/> when the
    /// user is online here already, queues <paramref name="welcome"/> as the connection's first frame, and only then makes
    /// the connection reachable. The caller holds the user's <see cref="Gate"/> stripe.
    /// </summary>
    /// <param name="connection">The new connection.</param>
    /// <param name="groups">The user's groups, as the host's data says now.</param>
    /// <param name="positions">The streams' positions of <paramref name="groups"/>, in the same order (for <c>added</c>).</param>
    /// <param name="welcome">The <c>welcome</c> frame.</param>
    public async ValueTask<LocalRegistration> RegisterAsync(RelayConnection connection, string[] groups, IReadOnlyList<StreamPosition> positions, byte[] welcome)
    {
        string userId = connection.UserId;

        // Local, not global: the group index of this node must be filled for this user whether or not the user is
        // online on another node. With one process the two are the same.
        bool wasOnline = _presence.GetLocalConnections(userId).Count > 0;
        IReadOnlyCollection<string> current = wasOnline ? await _directory.GetGroupsAsync(userId, CancellationToken.None).ConfigureAwait(false) : Array.Empty<string>();
        var currentSet = new HashSet<string>(current, StringComparer.Ordinal);
        var loadedSet = new HashSet<string>(groups, StringComparer.Ordinal);
        List<string> added = groups.Where(g => !currentSet.Contains(g)).ToList();
        List<string> removed = current.Where(g => !loadedSet.Contains(g)).ToList();
        foreach (string group in added)
        {
            // 'added' reaches the user's other connections before the first message of the group can.
            QueueToUser(userId, FrameWriter.MembershipEvent(added: true, group, positions[Array.IndexOf(groups, group)]));
            await _directory.AddMemberAsync(group, userId, CancellationToken.None).ConfigureAwait(false);
        }

        foreach (string group in removed)
        {
            await _directory.RemoveMemberAsync(group, userId, CancellationToken.None).ConfigureAwait(false);
            QueueToUser(userId, FrameWriter.MembershipEvent(added: false, group, position: null));
        }

        // Welcome goes into the queue before the connection becomes reachable, so it is always the first frame.
        connection.Outbound.TryEnqueue(welcome);
        bool first = await _presence.AddConnectionAsync(connection, CancellationToken.None).ConfigureAwait(false);
        return new LocalRegistration(first, wasOnline, added, removed);
    }

    /// <summary>
    /// Takes a closed connection out of the online list and, when it was the user's last here, the user out of this
    /// node's group index. Returns whether the user went offline everywhere, and the groups it left here. The caller
    /// holds the user's <see cref="Gate"/> stripe.
    /// </summary>
    public async ValueTask<(bool LastAnywhere, IReadOnlyCollection<string> Groups)> UnregisterAsync(RelayConnection connection)
    {
        bool last = await _presence.RemoveConnectionAsync(connection).ConfigureAwait(false);

        // Also when the connection never became reachable (closed while connecting): leave nothing behind. Local, not
        // global: the user may still be online on another node, which keeps its own index.
        if (_presence.GetLocalConnections(connection.UserId).Count > 0)
        {
            return (false, Array.Empty<string>());
        }

        IReadOnlyCollection<string> groups = await _directory.RemoveUserAsync(connection.UserId).ConfigureAwait(false);
        return (last, groups);
    }

    /// <summary>
    /// Applies a run-time membership change on this node: the group index, and <c>added</c>/<c>removed</c> to the user's
    /// connections here. Returns false when the user has no connection here, or nothing changed.
    /// </summary>
    public async Task<bool> ApplyChangeAsync(string userId, string groupId, bool add, StreamPosition position, CancellationToken cancellationToken)
    {
        using (await Gate.EnterAsync(userId, cancellationToken).ConfigureAwait(false))
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
                QueueToUser(userId, FrameWriter.MembershipEvent(added: true, groupId, position));
                await _directory.AddMemberAsync(groupId, userId, cancellationToken).ConfigureAwait(false);
                return true;
            }

            if (!await _directory.RemoveMemberAsync(groupId, userId, cancellationToken).ConfigureAwait(false))
            {
                return false;
            }

            QueueToUser(userId, FrameWriter.MembershipEvent(added: false, groupId, position: null));
            return true;
        }
    }

    /// <summary>Whether this node holds an open connection of the user.</summary>
    public bool HasLocalConnections(string userId) => _presence.GetLocalConnections(userId).Count > 0;

    private void QueueToUser(string userId, byte[] frame)
    {
        foreach (RelayConnection connection in _presence.GetLocalConnections(userId))
        {
            connection.Outbound.TryEnqueue(frame);
        }
    }
}
