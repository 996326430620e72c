using System.Collections.Generic;
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

    /// <summary>
    /// The query parameter a browser puts its access token in (browsers cannot set headers on a WebSocket), or null to
    /// read none. Default <c>access_token</c>.
    /// </summary>
    /// <remarks>
    /// When the request reaches the endpoint unauthenticated, carries this parameter and no <c>Authorization</c> header,
    /// the endpoint sets <c>Authorization: Bearer {token}</c> on this request only and authenticates it again with the
    /// host's default scheme (<c>AddBearerToken()</c>, JWT bearer, or any scheme that reads that header), so the host
    /// writes no events hook. Only on the relay path; the token is never logged by GroupRelay (docs/security.md shows
    /// how to keep ASP.NET Core's own request logging from writing query strings). An endpoint with
    /// <c>.RequireAuthorization()</c> is authorized before it runs, so there the token must already be read by the
    /// scheme (its <c>OnMessageReceived</c> event); without <c>RequireAuthorization</c> the endpoint refuses anonymous
    /// requests itself (401), which is the setup this option is for.
    /// </remarks>
    public string? AccessTokenQueryParameter { get; set; } = "access_token";

    /// <summary>
    /// The <c>Origin</c>s a browser page may open the relay from, e.g. <c>https://chat.example.com</c>; <c>*</c> allows
    /// any. Default empty: the relay's own origin (the request's scheme and host) only.
    /// </summary>
    /// <remarks>
    /// A request without an <c>Origin</c> header (a non-browser client) is always allowed. Any other origin gets HTTP 403
    /// before the upgrade (log event 105): with cookie authentication a page on another site could otherwise open a
    /// WebSocket as the signed-in user (cross-site WebSocket hijacking; browsers do not apply CORS to WebSockets).
    /// Compared case-insensitively, without a trailing slash.
    /// </remarks>
    public IList<string> AllowedOrigins { get; } = new List<string>();
}
