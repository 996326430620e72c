using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

namespace GroupRelay.Sample;

/// <summary>
/// The relay's <see cref="IMembershipSource"/> over the sample database: each call is one real, parameterised query
/// on a new connection, so a change to the database is seen by the next connection that opens.
/// </summary>
/// <remarks>Thread-safe. Groups come from <c>group_members</c>, contacts from <c>friends</c>.</remarks>
public sealed class SqliteMembershipSource : IMembershipSource
{
    private readonly SampleDatabase _database;

    /// <summary>Creates the source over a database.</summary>
    /// <param name="database">The sample database.</param>
    public SqliteMembershipSource(SampleDatabase database)
    {
        ArgumentNullException.ThrowIfNull(database);
        _database = database;
    }

    /// <inheritdoc />
    /// <exception cref="UnknownUserException">The user is not in the database (deleted while its token is still valid).</exception>
    public async ValueTask<IReadOnlyCollection<string>> GetGroupsAsync(string userId, CancellationToken cancellationToken = default)
    {
        IReadOnlyList<string> groups = await _database.GetGroupsOfAsync(userId, cancellationToken).ConfigureAwait(false);

        // A second query only for a user in no group: is it a user at all? The relay then refuses it as unauthorized.
        if (groups.Count == 0 && !await _database.UserExistsAsync(userId, cancellationToken).ConfigureAwait(false))
        {
            throw new UnknownUserException(userId);
        }

        return groups;
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyCollection<string>> GetContactsAsync(string userId, CancellationToken cancellationToken = default)
        => await _database.GetFriendsOfAsync(userId, cancellationToken).ConfigureAwait(false);
}
