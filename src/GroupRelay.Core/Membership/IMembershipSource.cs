using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

namespace GroupRelay;

/// <summary>
/// The host application's own membership data (usually its database): which groups a user belongs to,
/// and who the user's contacts are. GroupRelay asks it once per connection, when the connection opens.
/// </summary>
/// <remarks>
/// Implementations are called concurrently from many connections and must be thread-safe.
/// A call that throws or exceeds <see cref="GroupRelayOptions.MembershipTimeout"/> closes the connection
/// that asked with close code 1011; nothing else is affected. The relay stops waiting at the timeout even when the
/// call ignores its token, and discards (and logs) a late answer. Calls start on threads of the relay's own, so a
/// source that blocks its thread does not starve other connections; still, prefer asynchronous I/O.
/// </remarks>
/// <example>
/// <code>
/// public sealed class DbMembership(MyDb db) : IMembershipSource
/// {
///     public async ValueTask&lt;IReadOnlyCollection&lt;string&gt;&gt; GetGroupsAsync(string userId, CancellationToken cancellationToken = default)
///         =&gt; await db.GroupsOfAsync(userId, cancellationToken);
///     public async ValueTask&lt;IReadOnlyCollection&lt;string&gt;&gt; GetContactsAsync(string userId, CancellationToken cancellationToken = default)
///         =&gt; await db.FriendsOfAsync(userId, cancellationToken);
/// }
/// </code>
/// </example>
public interface IMembershipSource
{
    /// <summary>Returns the ids of the groups <paramref name="userId"/> belongs to (empty when none).</summary>
    /// <param name="userId">The authenticated user id.</param>
    /// <param name="cancellationToken">Cancelled when the connection closes or the membership timeout elapses.</param>
    /// <returns>The group ids; at most <see cref="GroupRelayOptions.MaxGroupsPerUser"/> (more fails the connection with 1011).</returns>
    /// <exception cref="UnknownUserException">
    /// Throw it for a user the host does not know: the connection is refused as unauthorized (401 before the upgrade on
    /// ASP.NET Core, 4003 on Fleck) instead of being welcomed with no groups.
    /// </exception>
    ValueTask<IReadOnlyCollection<string>> GetGroupsAsync(string userId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Returns the user's contacts (friends). The default <see cref="IPresencePolicy"/> lets a user watch the
    /// presence of its contacts and of the members of its own groups.
    /// </summary>
    /// <param name="userId">The authenticated user id.</param>
    /// <param name="cancellationToken">Cancelled when the connection closes or the membership timeout elapses.</param>
    ValueTask<IReadOnlyCollection<string>> GetContactsAsync(string userId, CancellationToken cancellationToken = default);
}
