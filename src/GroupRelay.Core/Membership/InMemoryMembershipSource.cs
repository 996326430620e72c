using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;

namespace GroupRelay;

/// <summary>
/// An <see cref="IMembershipSource"/> held in memory, for tests, demos and hosts whose membership is small and
/// set from code. Real applications usually read their database instead.
/// </summary>
/// <remarks>Thread-safe: every set is replaced, never mutated, under a lock per user.</remarks>
/// <example>
/// <code>
/// var membership = new InMemoryMembershipSource();
/// membership.SetGroups("alice", "team", "family");
/// membership.AddContacts("alice", "bob");
/// services.AddGroupRelay().AddMembershipSource(membership);
/// </code>
/// </example>
public sealed class InMemoryMembershipSource : IMembershipSource
{
    private readonly ConcurrentDictionary<string, string[]> _groups = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string[]> _contacts = new(StringComparer.Ordinal);

    /// <summary>Replaces the groups of a user.</summary>
    /// <param name="userId">The user id.</param>
    /// <param name="groupIds">The user's groups.</param>
    public void SetGroups(string userId, params string[] groupIds)
    {
        ArgumentNullException.ThrowIfNull(userId);
        ArgumentNullException.ThrowIfNull(groupIds);
        _groups[userId] = groupIds.Distinct(StringComparer.Ordinal).ToArray();
    }

    /// <summary>Makes users mutual contacts of <paramref name="userId"/>.</summary>
    /// <param name="userId">The user id.</param>
    /// <param name="contactIds">The contacts to add; each also gets <paramref name="userId"/> as a contact.</param>
    public void AddContacts(string userId, params string[] contactIds)
    {
        ArgumentNullException.ThrowIfNull(userId);
        ArgumentNullException.ThrowIfNull(contactIds);
        foreach (string contact in contactIds)
        {
            Append(_contacts, userId, contact);
            Append(_contacts, contact, userId);
        }
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyCollection<string>> GetGroupsAsync(string userId, CancellationToken cancellationToken = default)
        => new(_groups.TryGetValue(userId, out string[]? groups) ? groups : Array.Empty<string>());

    /// <inheritdoc />
    public ValueTask<IReadOnlyCollection<string>> GetContactsAsync(string userId, CancellationToken cancellationToken = default)
        => new(_contacts.TryGetValue(userId, out string[]? contacts) ? contacts : Array.Empty<string>());

    private static void Append(ConcurrentDictionary<string, string[]> map, string key, string value)
        => map.AddOrUpdate(key, _ => new[] { value }, (_, old) => old.Contains(value, StringComparer.Ordinal) ? old : old.Append(value).ToArray());
}
