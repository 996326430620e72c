using System;
using System.Threading;
using System.Threading.Tasks;
using GroupRelay.ScaleOut;

namespace GroupRelay.Internal;

/// <summary>
/// The <c>status</c> request (PROTOCOL.md section 3): sets an online user's status and, when it changed, announces it
/// to the user's watchers on every node through the backplane.
/// </summary>
/// <remarks>Thread-safe: the change and its announcement run under the user's <see cref="UserGate"/> stripe, so they
/// cannot interleave with the user's connect or disconnect and watchers see the events in the order they happened.</remarks>
internal sealed class PresenceStatus
{
    private readonly IPresenceRegistry _presence;
    private readonly UserGate _gate;
    private readonly IRelayBackplane _backplane;

    public PresenceStatus(IPresenceRegistry presence, UserGate gate, IRelayBackplane backplane)
    {
        _presence = presence;
        _gate = gate;
        _backplane = backplane;
    }

    public async ValueTask SetAsync(string userId, string? status, CancellationToken cancellationToken)
    {
        using (await _gate.EnterAsync(userId, cancellationToken).ConfigureAwait(false))
        {
            PresenceState before = await _presence.GetStateAsync(userId, cancellationToken).ConfigureAwait(false);
            if (await _presence.SetStatusAsync(userId, status, cancellationToken).ConfigureAwait(false)
                && !string.Equals(before.Status, status, StringComparison.Ordinal))
            {
                _backplane.PublishPresence(userId, online: true, status);
            }
        }
    }
}
