using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

namespace GroupRelay;

/// <summary>
/// The online list: user to open connections, plus each online user's status.
/// </summary>
/// <remarks>
/// The relay serialises all calls that concern one user (connect, disconnect, status, membership changes),
/// so an implementation only has to be safe across different users and against concurrent readers.
/// <see cref="GetLocalConnections"/> is on the per-message hot path: it must not block or allocate.
/// A scale-out implementation keeps connections local and the online state shared.
/// </remarks>
public interface IPresenceRegistry
{
    /// <summary>Adds an open connection. Returns true when it is the user's first (the user came online).</summary>
    /// <param name="connection">The connection that completed its handshake.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    ValueTask<bool> AddConnectionAsync(RelayConnection connection, CancellationToken cancellationToken = default);

    /// <summary>Removes a connection. Returns true when it was the user's last (the user went offline).</summary>
    /// <param name="connection">The connection that closed.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    ValueTask<bool> RemoveConnectionAsync(RelayConnection connection, CancellationToken cancellationToken = default);

    /// <summary>The open connections of a user held by this process (empty when none). Never allocates.</summary>
    /// <param name="userId">The user id.</param>
    IReadOnlyList<RelayConnection> GetLocalConnections(string userId);

    /// <summary>Returns the user's presence.</summary>
    /// <param name="userId">The user id.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    ValueTask<PresenceState> GetStateAsync(string userId, CancellationToken cancellationToken = default);

    /// <summary>Sets an online user's status. Returns false (and changes nothing) when the user is offline.</summary>
    /// <param name="userId">The user id.</param>
    /// <param name="status">The new status, or null to clear it.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    ValueTask<bool> SetStatusAsync(string userId, string? status, CancellationToken cancellationToken = default);

    /// <summary>Returns the ids of every online user.</summary>
    /// <param name="cancellationToken">Cancels the operation.</param>
    ValueTask<IReadOnlyCollection<string>> GetOnlineUsersAsync(CancellationToken cancellationToken = default);
}
