using System;
using System.Collections.Generic;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using GroupRelay.ScaleOut;

namespace GroupRelay.Internal;

/// <summary>The server-side API (<see cref="IGroupRelay"/>) over the same router and lifecycle the connections use.</summary>
/// <remarks>Thread-safe and stateless.</remarks>
internal sealed class GroupRelayService : IGroupRelay
{
    private readonly MessageRouter _router;
    private readonly RelayLifecycle _lifecycle;
    private readonly IPresenceRegistry _presence;
    private readonly GroupRelayOptions _options;

    public GroupRelayService(MessageRouter router, RelayLifecycle lifecycle, IPresenceRegistry presence, GroupRelayOptions options)
    {
        _router = router;
        _lifecycle = lifecycle;
        _presence = presence;
        _options = options;
    }

    public async ValueTask<long> PublishAsync(string groupId, ReadOnlyMemory<byte> utf8JsonBody, string from, CancellationToken cancellationToken = default)
    {
        CheckId(groupId, nameof(groupId));
        CheckId(from, nameof(from));
        JsonBody.ThrowIfNotOneValue(utf8JsonBody.Span, _options.MaxJsonDepth, nameof(utf8JsonBody));

        PublishOutcome outcome = await _router.PublishAsync(groupId, from, utf8JsonBody, JsonCompactor.IsCompact(utf8JsonBody.Span), sender: null, echo: true, idempotencyKey: null, cancellationToken).ConfigureAwait(false);
        if (outcome.Unavailable)
        {
            throw new GroupRelayException(outcome.OutcomeUnknown
                ? $"The backplane became unreachable while the message to group '{groupId}' was on its way and did not confirm whether it was ordered: it may have been delivered."
                : $"The message to group '{groupId}' could not be ordered now (the backplane is unreachable); nothing was delivered.");
        }

        return outcome.Seq;
    }

    public ValueTask<long> PublishAsync(string groupId, JsonElement body, string from, CancellationToken cancellationToken = default)
        => PublishAsync(groupId, JsonSerializer.SerializeToUtf8Bytes(body), from, cancellationToken);

    public Task<bool> AddUserToGroupAsync(string userId, string groupId, CancellationToken cancellationToken = default)
    {
        CheckId(userId, nameof(userId));
        CheckId(groupId, nameof(groupId));
        return _lifecycle.ChangeMembershipAsync(userId, groupId, add: true, cancellationToken);
    }

    public Task<bool> RemoveUserFromGroupAsync(string userId, string groupId, CancellationToken cancellationToken = default)
    {
        CheckId(userId, nameof(userId));
        CheckId(groupId, nameof(groupId));
        return _lifecycle.ChangeMembershipAsync(userId, groupId, add: false, cancellationToken);
    }

    public ValueTask<IReadOnlyList<string>> GetOnlineMembersAsync(string groupId, CancellationToken cancellationToken = default)
    {
        CheckId(groupId, nameof(groupId));
        return _router.GetMembersAsync(groupId, cancellationToken);
    }

    public ValueTask<PresenceState> GetPresenceAsync(string userId, CancellationToken cancellationToken = default)
    {
        CheckId(userId, nameof(userId));
        return _presence.GetStateAsync(userId, cancellationToken);
    }

    public ValueTask<IReadOnlyCollection<string>> GetOnlineUsersAsync(CancellationToken cancellationToken = default)
        => _presence.GetOnlineUsersAsync(cancellationToken);

    private void CheckId(string id, string parameter)
    {
        ArgumentException.ThrowIfNullOrEmpty(id, parameter);
        if (id.Length > _options.MaxIdLength)
        {
            throw new ArgumentException($"Ids are at most {_options.MaxIdLength} characters (GroupRelayOptions.MaxIdLength); this one has {id.Length}.", parameter);
        }
    }
}
