using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

namespace GroupRelay;

/// <summary>
/// The group index: group to online members. A group exists while it has at least one online member:
/// it is created by its first member and removed when its last member leaves.
/// </summary>
/// <remarks>
/// The relay serialises the calls that concern one user, but calls for different users run concurrently,
/// also on the same group. <see cref="GetMembersAsync"/> and <see cref="IsMemberAsync"/> are on the
/// per-message hot path: the in-memory implementation completes them synchronously without allocating.
/// A scale-out implementation answers for every node.
/// </remarks>
public interface IGroupDirectory
{
    /// <summary>Adds an online user to a group, creating the group. Returns false when it was already a member.</summary>
    /// <param name="groupId">The group id.</param>
    /// <param name="userId">The user id.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    ValueTask<bool> AddMemberAsync(string groupId, string userId, CancellationToken cancellationToken = default);

    /// <summary>Removes a user from a group, removing the group when it becomes empty. Returns false when it was not a member.</summary>
    /// <param name="groupId">The group id.</param>
    /// <param name="userId">The user id.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    ValueTask<bool> RemoveMemberAsync(string groupId, string userId, CancellationToken cancellationToken = default);

    /// <summary>Removes a user from every group it is in and returns those groups. Costs O(groups of that user).</summary>
    /// <param name="userId">The user id.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    ValueTask<IReadOnlyCollection<string>> RemoveUserAsync(string userId, CancellationToken cancellationToken = default);

    /// <summary>Returns the groups an online user is in (empty when none).</summary>
    /// <param name="userId">The user id.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    ValueTask<IReadOnlyCollection<string>> GetGroupsAsync(string userId, CancellationToken cancellationToken = default);

    /// <summary>Returns a snapshot of the online members of a group (empty when the group does not exist).</summary>
    /// <param name="groupId">The group id.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    ValueTask<IReadOnlyList<string>> GetMembersAsync(string groupId, CancellationToken cancellationToken = default);

    /// <summary>Returns true when <paramref name="userId"/> is an online member of <paramref name="groupId"/>.</summary>
    /// <param name="groupId">The group id.</param>
    /// <param name="userId">The user id.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    ValueTask<bool> IsMemberAsync(string groupId, string userId, CancellationToken cancellationToken = default);
}
