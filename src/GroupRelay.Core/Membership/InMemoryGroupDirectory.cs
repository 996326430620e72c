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
        return new ValueTask<IReadOnlyList<string>>(_members.Get(groupId));
    }

    /// <inheritdoc />
    public ValueTask<bool> IsMemberAsync(string groupId, string userId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(groupId);
        ArgumentNullException.ThrowIfNull(userId);
        return new ValueTask<bool>(_members.Contains(groupId, userId));
    }
}
