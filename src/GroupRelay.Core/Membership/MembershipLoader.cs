using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;

namespace GroupRelay.Internal;

/// <summary>
/// Asks the host's <see cref="IMembershipSource"/> for a connecting user's groups (PROTOCOL.md section 2), through
/// <see cref="HostCalls"/>, so the relay stops waiting at <see cref="GroupRelayOptions.MembershipTimeout"/> whatever the
/// source does; a failure closes that connection with 1011 and a log line, and touches nothing else.
/// </summary>
/// <remarks>Thread-safe and stateless.</remarks>
internal sealed class MembershipLoader
{
    private readonly IMembershipSource _membership;
    private readonly HostCalls _hostCalls;
    private readonly GroupRelayOptions _options;
    private readonly ILogger _logger;

    public MembershipLoader(IMembershipSource membership, HostCalls hostCalls, GroupRelayOptions options, ILogger logger)
    {
        _membership = membership;
        _hostCalls = hostCalls;
        _options = options;
        _logger = logger;
    }

    /// <summary>
    /// Asks the host for the user's groups; null (and the connection closing) when that failed. The relay stops waiting
    /// at <see cref="GroupRelayOptions.MembershipTimeout"/> whether or not the source honours its token.
    /// </summary>
    public async Task<string[]?> LoadGroupsAsync(RelayConnection connection, CancellationToken cancellationToken)
        => Apply(connection, await LoadAsync(connection.UserId, connection.ConnectionId, cancellationToken).ConfigureAwait(false));

    /// <summary>The groups of a load, or null after closing <paramref name="connection"/> as the failed load says.</summary>
    public static string[]? Apply(RelayConnection connection, MembershipLoad load)
    {
        if (load.Groups is null)
        {
            connection.Outbound.RequestClose(load.CloseCode, load.CloseReason!, discardQueued: true);
        }

        return load.Groups;
    }

    /// <summary>
    /// Asks the host for the user's groups, without a connection yet (a transport may ask before it accepts the
    /// WebSocket); a failure is logged and described by the close it calls for.
    /// </summary>
    public async Task<MembershipLoad> LoadAsync(string userId, string connectionId, CancellationToken cancellationToken)
    {
        try
        {
            IReadOnlyCollection<string> loaded = await _hostCalls.InvokeAsync(
                    "membership source",
                    userId,
                    static (s, token) => s.Source.GetGroupsAsync(s.UserId, token),
                    (Source: _membership, UserId: userId),
                    _options.MembershipTimeout,
                    cancellationToken).ConfigureAwait(false)
                ?? throw new GroupRelayException($"{_membership.GetType().Name}.GetGroupsAsync returned null for a user.");
            if (loaded.Count > _options.MaxGroupsPerUser)
            {
                // Checked before anything is built from the answer: a source that returns a million groups (a bug, or a
                // query without its WHERE) fails this connection instead of consuming the server.
                GroupRelayLog.TooManyGroups(_logger, userId, loaded.Count, _options.MaxGroupsPerUser, connectionId);
                return MembershipLoad.Failed(RelayCloseCodes.InternalError, "too many groups");
            }

            return new MembershipLoad(loaded.Where(g => !string.IsNullOrEmpty(g) && g.Length <= _options.MaxIdLength).Distinct(StringComparer.Ordinal).ToArray(), 0, null);
        }
        catch (UnknownUserException)
        {
            GroupRelayLog.UnknownUser(_logger, userId, connectionId);
            return MembershipLoad.Failed(RelayCloseCodes.Unauthorized, "unknown user");
        }
        catch (HostCallTimeoutException)
        {
            GroupRelayLog.MembershipTimedOut(_logger, userId, _options.MembershipTimeout, connectionId);
            return MembershipLoad.Failed(RelayCloseCodes.InternalError, "membership source timed out");
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The client went away while its groups were loading: nothing failed, nothing to register.
            GroupRelayLog.HandshakeAbandoned(_logger, connectionId, userId);
            return MembershipLoad.Failed(RelayCloseCodes.Normal, "client went away");
        }
        catch (Exception ex)
        {
            GroupRelayLog.MembershipFailed(_logger, userId, connectionId, ex);
            return MembershipLoad.Failed(RelayCloseCodes.InternalError, "membership source failed");
        }
    }

}

/// <summary>The outcome of asking the membership source: the user's groups, or the close a failure calls for.</summary>
internal readonly record struct MembershipLoad(string[]? Groups, int CloseCode, string? CloseReason)
{
    public static MembershipLoad Failed(int closeCode, string reason) => new(null, closeCode, reason);

    /// <summary>The source does not know the user (<see cref="UnknownUserException"/>): refused as unauthorized.</summary>
    public bool UnknownUser => Groups is null && CloseCode == RelayCloseCodes.Unauthorized;
}
