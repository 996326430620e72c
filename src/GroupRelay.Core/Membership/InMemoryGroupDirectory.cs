using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using GroupRelay.Internal;

namespace GroupRelay;

/// <summary>
/// The default <see cref="IGroupDirectory"/>: the group index of this process. Join, leave and look-up are O(1);
/// removing a user costs O(groups of that user), never O(all groups); an empty group is removed atomically with its
/// last member.
/// </summary>
/// <remarks>
/// Thread-safe: each group and each user has its own lock for writes, and member look-ups read an immutable
/// snapshot, so fan-out neither blocks joins nor allocates. Every call completes synchronously.
/// </remarks>
public sealed class InMemoryGroupDirectory : IGroupDirectory
{
    private readonly SetIndex<string> _members = new(StringComparer.Ordinal);
    private readonly SetIndex<string> _groupsOfUser = new(StringComparer.Ordinal);

    /// <summary>Number of groups with at least one online member.</summary>
    public int GroupCount => _members.KeyCount;

    /// <summary>Number of users that are in at least one group.</summary>
    public int UserCount => _groupsOfUser.KeyCount;

    /// <inheritdoc />
    public ValueTask<bool> AddMemberAsync(string groupId, string userId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(groupId);
        ArgumentNullException.ThrowIfNull(userId);
        bool added = _members.Add(groupId, userId, out _);
        _groupsOfUser.Add(userId, groupId, out _);
        return new ValueTask<bool>(added);
    }

    /// <inheritdoc />
    public ValueTask<bool> RemoveMemberAsync(string groupId, string userId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(groupId);
        ArgumentNullException.ThrowIfNull(userId);
        bool removed = _members.Remove(groupId, userId, out _);
        _groupsOfUser.Remove(userId, groupId, out _);
        return new ValueTask<bool>(removed);
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyCollection<string>> RemoveUserAsync(string userId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(userId);
        string[] groups = _groupsOfUser.RemoveKey(userId);
        foreach (string group in groups)
        {
            _members.Remove(group, userId, out _);
        }

        return new ValueTask<IReadOnlyCollection<string>>(groups);
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyCollection<string>> GetGroupsAsync(string userId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(userId);
        return new ValueTask<IReadOnlyCollection<string>>(_groupsOfUser.Get(userId));
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<string>> GetMembersAsync(string groupId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(groupId);
        return new ValueTask<IReadOnlyList<string>>(GetMembers(groupId));
    }

    /// <summary>
    /// The synchronous form of <see cref="GetMembersAsync"/>: a snapshot of the online members of a group (empty when
    /// the group does not exist), for a caller that wraps this store and delivers on a path that cannot await.
    /// </summary>
    /// <param name="groupId">The group id.</param>
    /// <returns>An immutable snapshot; O(1), and no allocation once built after a change.</returns>
    /// <remarks>Thread-safe: reads the group's current snapshot without taking its lock.</remarks>
    public IReadOnlyList<string> GetMembers(string groupId)
    {
        ArgumentNullException.ThrowIfNull(groupId);
        return _members.Get(groupId);
    }

    /// <summary>
    /// Every group with at least one online member, for a caller that must write the whole index elsewhere again (a
    /// scale-out backplane's resynchronisation); read each group's members with <see cref="GetMembers"/>.
    /// </summary>
    /// <returns>A new list of group ids; O(groups), allocates the list.</returns>
    /// <remarks>
    /// Thread-safe, but not atomic across groups: a group added or emptied while the list is built may or may not be in
    /// it, so a caller that needs an exact picture keeps writers out meanwhile.
    /// </remarks>
    public IReadOnlyList<string> GetAllGroups() => new List<string>(_members.Keys);

    /// <inheritdoc />
    public ValueTask<bool> IsMemberAsync(string groupId, string userId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(groupId);
        ArgumentNullException.ThrowIfNull(userId);
        return new ValueTask<bool>(_members.Contains(groupId, userId));
    }
}
