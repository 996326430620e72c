using GroupRelay.Internal;

namespace GroupRelay.Transports;

/// <summary>
/// A user's groups as the host's membership source answered before the upgrade
/// (<see cref="RelayConnectionHandler.LoadMembershipAsync"/>), to hand to
/// <see cref="RelayConnectionHandler.Admit(RelayMembership, string?)"/>.
/// </summary>
/// <remarks>Immutable; use it for one connection.</remarks>
public sealed class RelayMembership
{
    internal RelayMembership(string userId, MembershipLoad load)
    {
        UserId = userId;
        Load = load;
    }

    /// <summary>The user.</summary>
    public string UserId { get; }

    /// <summary>
    /// True when the membership source does not know the user (it threw <see cref="UnknownUserException"/>): refuse the
    /// handshake with HTTP 401, as for a refused token.
    /// </summary>
    public bool IsUnknownUser => Load.UnknownUser;

    internal MembershipLoad Load { get; }
}
