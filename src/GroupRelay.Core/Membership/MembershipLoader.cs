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
    {
        string userId = connection.UserId;
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
                GroupRelayLog.TooManyGroups(_logger, userId, loaded.Count, _options.MaxGroupsPerUser, connection.ConnectionId);
                connection.Outbound.RequestClose(RelayCloseCodes.InternalError, "too many groups", discardQueued: true);
                return null;
            }

            return loaded.Where(g => !string.IsNullOrEmpty(g) && g.Length <= _options.MaxIdLength).Distinct(StringComparer.Ordinal).ToArray();
        }
        catch (UnknownUserException)
        {
            GroupRelayLog.UnknownUser(_logger, userId, connection.ConnectionId);
            connection.Outbound.RequestClose(RelayCloseCodes.Unauthorized, "unknown user", discardQueued: true);
        }
        catch (HostCallTimeoutException)
        {
            GroupRelayLog.MembershipTimedOut(_logger, userId, _options.MembershipTimeout, connection.ConnectionId);
            connection.Outbound.RequestClose(RelayCloseCodes.InternalError, "membership source timed out", discardQueued: true);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The client went away while its groups were loading: nothing failed, nothing to register.
            GroupRelayLog.HandshakeAbandoned(_logger, connection.ConnectionId, userId);
            connection.Outbound.RequestClose(RelayCloseCodes.Normal, "client went away", discardQueued: true);
        }
        catch (Exception ex)
        {
            GroupRelayLog.MembershipFailed(_logger, userId, connection.ConnectionId, ex);
            connection.Outbound.RequestClose(RelayCloseCodes.InternalError, "membership source failed", discardQueued: true);
        }

        return null;
    }

}
