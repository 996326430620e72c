using System.Security.Claims;

namespace GroupRelay.Transports.AspNetCore;

/// <summary>Options of one GroupRelay endpoint mapped with <c>MapGroupRelay</c>.</summary>
public sealed class GroupRelayEndpointOptions
{
    /// <summary>
    /// The claim whose value is the user id. When null (the default), <see cref="ClaimTypes.NameIdentifier"/> is used,
    /// then <see cref="ClaimTypes.Name"/> (the identity's name claim).
    /// </summary>
    public string? UserIdClaimType { get; set; }

    /// <summary>The WebSocket subprotocol offered and selected when the client asks for it. Default <c>grouprelay.v1</c>.</summary>
    public string SubProtocol { get; set; } = "grouprelay.v1";
}
