using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

namespace GroupRelay.Internal;

/// <summary>
/// The default <see cref="IPresencePolicy"/>: a user may watch itself, its contacts, and the members of its own
/// groups. Costs one contacts query per <c>watch</c>, plus one groups query for each named user that is neither
/// a contact nor an online member of a shared group (only those need the host's data to tell).
/// </summary>
internal sealed class DefaultPresencePolicy : IPresencePolicy
{
    private readonly IMembershipSource _membership;
    private readonly IGroupDirectory _directory;

    public DefaultPresencePolicy(IMembershipSource membership, IGroupDirectory directory)
    {
        _membership = membership;
        _directory = directory;
    }

    public async ValueTask<IReadOnlySet<string>> GetAllowedAsync(string watcherUserId, IReadOnlyCollection<string> targetUserIds, CancellationToken cancellationToken = default)
    {
        var allowed = new HashSet<string>(StringComparer.Ordinal);
        var contacts = new HashSet<string>(await _membership.GetContactsAsync(watcherUserId, cancellationToken).ConfigureAwait(false), StringComparer.Ordinal);
        var ownGroups = new HashSet<string>(await _directory.GetGroupsAsync(watcherUserId, cancellationToken).ConfigureAwait(false), StringComparer.Ordinal);
        foreach (string target in targetUserIds)
        {
            if (string.Equals(target, watcherUserId, StringComparison.Ordinal) || contacts.Contains(target))
            {
                allowed.Add(target);
                continue;
            }

            bool shared = false;
            foreach (string group in ownGroups)
            {
                if (await _directory.IsMemberAsync(group, target, cancellationToken).ConfigureAwait(false))
                {
                    shared = true;
                    break;
                }
            }

            if (!shared && ownGroups.Count > 0)
            {
                // Offline (or not yet indexed) users: only the host's data can tell whether a group is shared.
                foreach (string group in await GroupsOfAsync(target, cancellationToken).ConfigureAwait(false))
                {
                    if (ownGroups.Contains(group))
                    {
                        shared = true;
                        break;
                    }
                }
            }

            if (shared)
            {
                allowed.Add(target);
            }
        }

        return allowed;
    }

    // A user the host does not know shares no group with anyone: forbidden, not a failed request.
    private async ValueTask<IReadOnlyCollection<string>> GroupsOfAsync(string userId, CancellationToken cancellationToken)
    {
        try
        {
            return await _membership.GetGroupsAsync(userId, cancellationToken).ConfigureAwait(false);
        }
        catch (UnknownUserException)
        {
            return Array.Empty<string>();
        }
    }
}
