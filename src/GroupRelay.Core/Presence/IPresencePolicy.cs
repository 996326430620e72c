using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

namespace GroupRelay;

/// <summary>
/// Decides whose presence a user may watch. Users that are not allowed are answered as <c>forbidden</c>
/// and never reveal their state.
/// </summary>
/// <remarks>
/// The default policy allows the watcher's contacts (<see cref="IMembershipSource.GetContactsAsync"/>) and
/// the members of the watcher's groups; it is evaluated once per <c>watch</c> request. Replace it with
/// <c>builder.Services.AddSingleton&lt;IPresencePolicy, MyPolicy&gt;()</c> before or after <c>AddGroupRelay()</c>.
/// A call that exceeds <see cref="GroupRelayOptions.PresencePolicyTimeout"/> is not waited for (its token is
/// cancelled, and a late answer is discarded and logged); that <c>watch</c> is answered with <c>internal</c>.
/// </remarks>
public interface IPresencePolicy
{
    /// <summary>Returns the subset of <paramref name="targetUserIds"/> that <paramref name="watcherUserId"/> may watch.</summary>
    /// <param name="watcherUserId">The user asking.</param>
    /// <param name="targetUserIds">Distinct, already validated user ids (at most <see cref="GroupRelayOptions.MaxWatchPerRequest"/>).</param>
    /// <param name="cancellationToken">Cancelled when the connection closes.</param>
    ValueTask<IReadOnlySet<string>> GetAllowedAsync(string watcherUserId, IReadOnlyCollection<string> targetUserIds, CancellationToken cancellationToken = default);
}
