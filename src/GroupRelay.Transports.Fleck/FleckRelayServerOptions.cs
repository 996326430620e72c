using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Fleck;

namespace GroupRelay.Transports.Fleck;

/// <summary>
/// Options of a <see cref="FleckRelayServer"/>: how a connection is authenticated and which subprotocol is offered.
/// Set exactly one of <see cref="Authenticate"/> and <see cref="AuthenticateAsync"/>.
/// </summary>
/// <remarks>
/// Fleck cannot refuse a WebSocket handshake, so identity is decided right after the connection opens: a connection
/// the authenticator rejects is closed with 4003 and reason <c>unauthorized</c> before it receives any frame.
/// </remarks>
public sealed class FleckRelayServerOptions
{
    /// <summary>
    /// Returns the user id of a new connection, or null to refuse it (close 4003 <c>unauthorized</c>). Gets Fleck's
    /// connection info: <see cref="IWebSocketConnectionInfo.Path"/> (path and query), headers, cookies and the
    /// client's address. <see cref="FleckRelayAuthentication.GetAccessToken"/> reads a bearer token from the
    /// <c>access_token</c> query parameter or the <c>Authorization</c> header.
    /// </summary>
    /// <remarks>Runs on a thread-pool thread, never on Fleck's I/O path. An exception closes the connection with 1011.</remarks>
    public Func<IWebSocketConnectionInfo, string?>? Authenticate { get; set; }

    /// <summary>
    /// The asynchronous form of <see cref="Authenticate"/>, for authenticators that do I/O (a session store, token
    /// introspection). The token is cancelled when the connection ends or the server stops.
    /// </summary>
    public Func<IWebSocketConnectionInfo, CancellationToken, ValueTask<string?>>? AuthenticateAsync { get; set; }

    /// <summary>
    /// The WebSocket subprotocol offered and selected when the client asks for it. Default <c>grouprelay.v1</c>.
    /// A client that asks for no subprotocol is accepted.
    /// </summary>
    /// <remarks>
    /// A client that asks only for other subprotocols fails the handshake: Fleck 1.2.0 throws during negotiation
    /// instead of answering without a subprotocol.
    /// </remarks>
    public string SubProtocol { get; set; } = "grouprelay.v1";

    /// <summary>
    /// Adjusts the Fleck server before it starts, for example <see cref="WebSocketServer.Certificate"/> and
    /// <see cref="WebSocketServer.EnabledSslProtocols"/> for a <c>wss://</c> location. Default none.
    /// </summary>
    public Action<WebSocketServer>? ConfigureServer { get; set; }

    /// <summary>
    /// The <c>Origin</c>s a browser page may open the relay from (e.g. <c>https://chat.example.com</c>); <c>*</c> allows
    /// any. Default empty: pages served from the relay's own host (the WebSocket's <c>Host</c>, any port: a page served
    /// next to the relay on another port, as the Fleck sample does).
    /// </summary>
    /// <remarks>
    /// A connection without an <c>Origin</c> header (not a browser) is always allowed. Any other origin is closed with
    /// 4003 right after open, before authentication (log event 213): cross-site WebSocket hijacking (docs/security.md).
    /// Compared case-insensitively, without a trailing slash.
    /// </remarks>
    public IList<string> AllowedOrigins { get; } = new List<string>();
}
