using System;

namespace GroupRelay;

/// <summary>
/// Thrown by an <see cref="IMembershipSource"/> for a user the host does not know (for example deleted from its database
/// while a token issued to it is still valid): the relay then refuses the connection as unauthorized instead of
/// welcoming a user with no groups.
/// </summary>
/// <remarks>
/// How the refusal looks: on the ASP.NET Core transport, HTTP 401 before the upgrade (the membership look-up runs
/// before the WebSocket is accepted); on transports that accept first (Fleck), close code 4003 right after open
/// (PROTOCOL.md section 5). Either way a log line (event 25) without the token, and an official client stops
/// reconnecting and asks the application for a new identity (PROTOCOL.md section 6.4).
/// </remarks>
public sealed class UnknownUserException : GroupRelayException
{
    /// <summary>Says that <paramref name="userId"/> is not a user of the host application.</summary>
    /// <param name="userId">The user id the host does not know.</param>
    public UnknownUserException(string userId)
        : base($"The membership source does not know user '{userId}'.")
    {
        UserId = userId;
    }

    /// <summary>The user id the host does not know.</summary>
    public string UserId { get; }
}
