using System;
using System.Collections.Generic;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;

namespace GroupRelay;

/// <summary>
/// The relay as host code sees it (like SignalR's <c>IHubContext</c>): publish to a group, change who is in a group
/// at run time, and ask who is online. Get it from DI.
/// </summary>
/// <remarks>Thread-safe. Membership changes made here change the relay's view only: change the host's own data too,
/// so the next connect (which asks <see cref="IMembershipSource"/>) agrees.</remarks>
/// <example>
/// <code>
/// app.MapPost("/api/announce", async (IGroupRelay relay) =&gt;
///     await relay.PublishAsync("team", JsonSerializer.SerializeToElement(new { text = "deploy at 5" }), from: "system"));
/// </code>
/// </example>
public interface IGroupRelay
{
    /// <summary>Sends a <c>message</c> to every open connection of every online member of a group, with the next <c>seq</c>.</summary>
    /// <param name="groupId">The group.</param>
    /// <param name="utf8JsonBody">The body as UTF-8 JSON (any JSON value).</param>
    /// <param name="from">The sender written into the frame, for example <c>system</c>.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The <c>seq</c> the message got.</returns>
    /// <exception cref="ArgumentException">An id is empty or too long, or the body is not valid JSON.</exception>
    /// <exception cref="GroupRelayException">
    /// The backplane cannot order the message now (PROTOCOL.md section 4, <c>unavailable</c>); nothing was delivered. Rarely
    /// (the backplane became unreachable while the message was on its way and did not come back within a bounded time)
    /// it cannot tell, and the exception's message says it may have been delivered (docs/scaling.md, "Losing Redis").
    /// </exception>
    ValueTask<long> PublishAsync(string groupId, ReadOnlyMemory<byte> utf8JsonBody, string from, CancellationToken cancellationToken = default);

    /// <summary>Sends a <c>message</c> whose body is <paramref name="body"/>; see the other overload.</summary>
    /// <param name="groupId">The group.</param>
    /// <param name="body">The body.</param>
    /// <param name="from">The sender written into the frame.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The <c>seq</c> the message got.</returns>
    ValueTask<long> PublishAsync(string groupId, JsonElement body, string from, CancellationToken cancellationToken = default);

    /// <summary>
    /// Adds a user to a group: every open connection of the user gets <c>added</c>, the group's other online members
    /// get <c>joined</c>, and routing follows at once. Returns false when the user is offline or already a member.
    /// </summary>
    /// <param name="userId">The user.</param>
    /// <param name="groupId">The group.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    Task<bool> AddUserToGroupAsync(string userId, string groupId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Removes a user from a group: every open connection of the user gets <c>removed</c>, the others get <c>left</c>,
    /// and the user receives nothing more from the group. Returns false when the user was not an online member.
    /// </summary>
    /// <param name="userId">The user.</param>
    /// <param name="groupId">The group.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    Task<bool> RemoveUserFromGroupAsync(string userId, string groupId, CancellationToken cancellationToken = default);

    /// <summary>Returns the online members of a group (empty when none).</summary>
    /// <param name="groupId">The group.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    ValueTask<IReadOnlyList<string>> GetOnlineMembersAsync(string groupId, CancellationToken cancellationToken = default);

    /// <summary>Returns a user's presence (online and status).</summary>
    /// <param name="userId">The user.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    ValueTask<PresenceState> GetPresenceAsync(string userId, CancellationToken cancellationToken = default);

    /// <summary>Returns every online user.</summary>
    /// <param name="cancellationToken">Cancels the operation.</param>
    ValueTask<IReadOnlyCollection<string>> GetOnlineUsersAsync(CancellationToken cancellationToken = default);
}
