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

    /// <summary>
    /// Whether the endpoint also serves the JavaScript client (the <c>@grouprelay/client</c> package, embedded in this
    /// assembly): <c>GET {pattern}/client.js</c> and <c>GET {pattern}/client.d.ts</c>. Default true.
    /// </summary>
    /// <remarks>
    /// The files are public (anonymous access, whatever the relay endpoint requires) and served with
    /// <c>Cache-Control: no-cache</c>, a strong <c>ETag</c> (a hash of the content, answered with 304 for a matching
    /// <c>If-None-Match</c>) and <c>Access-Control-Allow-Origin: *</c>, so that a page on another origin can import the
    /// module. Conventions applied to what <c>MapGroupRelay</c> returns (such as <c>RequireAuthorization</c>) apply to
    /// the relay endpoint only.
    /// </remarks>
    public bool ServeClientScript { get; set; } = true;
}
