using System;
using System.Threading;
using GroupRelay.Internal;

namespace GroupRelay.Transports;

/// <summary>
/// A slot for one connection under the connection limits (<see cref="GroupRelayOptions.MaxConnectionsPerUser"/>,
/// <see cref="GroupRelayOptions.MaxConnectionsPerAddress"/>, <see cref="GroupRelayOptions.MaxConnections"/>), taken by
/// <see cref="RelayConnectionHandler.Admit(string, string?)"/> before a transport accepts the WebSocket, so that it can refuse the
/// handshake itself (HTTP 429) rather than close a socket it just opened.
/// </summary>
/// <remarks>
/// Hand an admitted slot to <see cref="RelayConnectionHandler.AcceptAsync(RelayAdmission, IRelaySocket, CancellationToken)"/>,
/// which keeps it until the connection ends; dispose it when the connection is not made after all (the upgrade
/// failed). Disposing twice, or after it was handed over, does nothing. Not thread-safe: one transport call owns it.
/// </remarks>
public sealed class RelayAdmission : IDisposable
{
    private readonly ConnectionLimits? _limits;
    private int _released;

    internal RelayAdmission(ConnectionLimits limits, string userId, string? remoteAddress, string? refusal)
    {
        UserId = userId;
        RemoteAddress = remoteAddress;
        RefusalReason = refusal;
        _limits = refusal is null ? limits : null;
    }

    /// <summary>The user the slot is for.</summary>
    public string UserId { get; }

    /// <summary>The client's address the slot counts against, or null when the transport does not know it.</summary>
    public string? RemoteAddress { get; }

    /// <summary>True when every limit had room; false when one is full (see <see cref="RefusalReason"/>).</summary>
    public bool IsAdmitted => RefusalReason is null;

    /// <summary>Which limit is full, naming it and its value (for the log and the refusal's body), or null when admitted.</summary>
    public string? RefusalReason { get; }

    /// <summary>Gives the slot back (once) unless a connection holds it.</summary>
    public void Dispose()
    {
        if (!HandedOver)
        {
            Release();
        }
    }

    /// <summary>Called by the connection that held the slot when it ends; also by <see cref="Dispose"/>.</summary>
    internal void Release()
    {
        if (_limits is not null && Interlocked.Exchange(ref _released, 1) == 0)
        {
            _limits.Release(UserId, RemoteAddress);
        }
    }

    /// <summary>Handed to a connection: from now on only that connection's end releases it.</summary>
    internal RelayAdmission HandOver()
    {
        HandedOver = true;
        return this;
    }

    internal bool HandedOver { get; private set; }

    /// <summary>The user's groups, asked before the upgrade (<see cref="RelayConnectionHandler.LoadMembershipAsync"/>), or null to ask at accept.</summary>
    internal MembershipLoad? Membership { get; init; }
}
