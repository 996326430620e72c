using System;
using System.IO;
using System.Linq;
using System.Net.WebSockets;
using System.Security.Claims;
using System.Threading.Tasks;
using GroupRelay.Transports;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebSockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace GroupRelay.Transports.AspNetCore.Internal;

/// <summary>
/// The request delegate behind <c>MapGroupRelay</c>: authenticates, upgrades, and runs the connection's receive loop.
/// All protocol logic is in GroupRelay.Core; this class only moves frames between Kestrel and a <see cref="RelaySession"/>.
/// </summary>
internal sealed partial class WebSocketRelayEndpoint
{
    // Idle connections hold no receive buffer: a zero-byte read waits for data, then a buffer is rented for one frame.
    private const int InitialReceiveBuffer = 4096;

    // How long a client that broke the protocol may take to read the close frame and end the connection (at most
    // CloseTimeout): it owes the server nothing, so it gets less than a cooperative close.
    private static readonly TimeSpan ViolatorLinger = TimeSpan.FromSeconds(2);

    private readonly RelayConnectionHandler _handler;
    private readonly GroupRelayEndpointOptions _options;
    private readonly ILogger _logger;
    private readonly WebSocketMiddleware _handshake;

    public WebSocketRelayEndpoint(RelayConnectionHandler handler, GroupRelayEndpointOptions options, IServiceProvider services)
    {
        _handler = handler;
        _options = options;
        ILoggerFactory loggerFactory = services.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance;
        _logger = loggerFactory.CreateLogger("GroupRelay.Transports.AspNetCore");
        _handshake = new WebSocketMiddleware(
            static _ => Task.CompletedTask,
            services.GetService<IOptions<WebSocketOptions>>() ?? Microsoft.Extensions.Options.Options.Create(new WebSocketOptions()),
            loggerFactory);
    }

    public async Task HandleAsync(HttpContext context)
    {
        // Origin first: a page of another site must not get as far as the user's cookies being used.
        if (!OriginAllowed(context.Request, out string? origin))
        {
            TransportLog.OriginRefused(_logger, context.Request.Path, origin!);
            context.Response.StatusCode = StatusCodes.Status403Forbidden;
            await context.Response.WriteAsync("GroupRelay: this origin may not open the relay (AllowedOrigins).", context.RequestAborted).ConfigureAwait(false);
            return;
        }

        if (context.User.Identity?.IsAuthenticated != true)
        {
            await AuthenticateFromQueryAsync(context).ConfigureAwait(false);
        }

        // Identity first, upgrade second: a plain GET answers 401 for a refused identity and 400 for a valid one, which
        // is how a browser client tells a bad token from a relay that is down (PROTOCOL.md section 6.4).
        if (context.User.Identity?.IsAuthenticated != true)
        {
            TransportLog.Anonymous(_logger, context.Request.Path);
            await RefuseAsync(context, "GroupRelay: authentication required.").ConfigureAwait(false);
            return;
        }

        string? userId = _options.UserIdClaimType is { } claimType
            ? context.User.FindFirstValue(claimType)
            : context.User.FindFirstValue(ClaimTypes.NameIdentifier) ?? context.User.Identity.Name;
        if (string.IsNullOrEmpty(userId))
        {
            TransportLog.NoUserIdClaim(_logger, context.Request.Path, _options.UserIdClaimType ?? ClaimTypes.NameIdentifier);
            await RefuseAsync(context, "GroupRelay: the authenticated user has no user id claim.").ConfigureAwait(false);
            return;
        }

        // The host's data is part of the identity: a valid token of a user the host no longer knows is refused like a
        // bad token (401, before the upgrade, for a plain GET too), so a client stops instead of retrying.
        RelayMembership membership = await _handler.LoadMembershipAsync(userId, context.RequestAborted).ConfigureAwait(false);
        if (context.RequestAborted.IsCancellationRequested)
        {
            return; // the client left while its groups were loading (logged by the core)
        }

        if (membership.IsUnknownUser)
        {
            await RefuseAsync(context, "GroupRelay: the user is not known to the application.").ConfigureAwait(false);
            return;
        }

        if (!context.WebSockets.IsWebSocketRequest)
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            await context.Response.WriteAsync("GroupRelay: this endpoint accepts WebSocket upgrade requests only.", context.RequestAborted).ConfigureAwait(false);
            return;
        }

        // A slot under the connection limits before the upgrade, so a full one is refused with 429 (not a socket opened
        // and closed); the connection holds it until it ends.
        RelayAdmission admission = _handler.Admit(membership, context.Connection.RemoteIpAddress?.ToString());
        if (!admission.IsAdmitted)
        {
            TransportLog.ConnectionLimit(_logger, userId, context.Request.Path, admission.RefusalReason!);
            context.Response.StatusCode = StatusCodes.Status429TooManyRequests;
            await context.Response.WriteAsync("GroupRelay: " + admission.RefusalReason + ".", context.RequestAborted).ConfigureAwait(false);
            return;
        }

        string? subProtocol = context.WebSockets.WebSocketRequestedProtocols.Contains(_options.SubProtocol, StringComparer.Ordinal) ? _options.SubProtocol : null;
        WebSocket webSocket;
        UpgradedStream? stream;
        try
        {
            CapturingUpgradeFeature? upgrade = await CaptureUpgradeAsync(context).ConfigureAwait(false);
            webSocket = await context.WebSockets.AcceptWebSocketAsync(CreateAcceptContext(subProtocol)).ConfigureAwait(false);
            stream = upgrade?.Stream;
        }
        catch
        {
            admission.Dispose();
            throw;
        }

        RelaySession session;
        try
        {
            session = await _handler.AcceptAsync(admission, new WebSocketRelaySocket(webSocket, stream), context.RequestAborted).ConfigureAwait(false);
        }
        catch
        {
            admission.Dispose();
            webSocket.Dispose();
            stream?.Release();
            throw;
        }

        try
        {
            await ReceiveLoopAsync(webSocket, session).ConfigureAwait(false);
        }
        finally
        {
            await session.DisposeAsync().ConfigureAwait(false);
            if (stream is { FailedByWebSocket: true })
            {
                // .NET's WebSocket aborted itself. Aborting or disposing ASP.NET Core's WebSocket now would abort the
                // HTTP connection, which Kestrel ends with a reset; returning lets Kestrel end it in order (FIN), now
                // that nothing is left unread.
                await LingerAsync(stream.Inner, session.Connection.ConnectionId).ConfigureAwait(false);
            }
            else
            {
                if (webSocket.State != WebSocketState.Closed)
                {
                    webSocket.Abort();
                }

                webSocket.Dispose();
            }

            stream?.Release();
        }
    }

    private WebSocketAcceptContext CreateAcceptContext(string? subProtocol)
    {
        var accept = new WebSocketAcceptContext
        {
            SubProtocol = subProtocol,
            KeepAliveInterval = _handler.Options.KeepAliveInterval,
        };
#if NET9_0_OR_GREATER
        // With a timeout .NET sends pings (not unsolicited pongs) and aborts the socket when no pong comes back in time;
        // the receive loop then reports it (ReceiveKeepAliveTimeout). On .NET 8 the WebSocket API sends no ping at all.
        if (KeepAliveTimeoutEnabled(_handler.Options))
        {
            accept.KeepAliveTimeout = _handler.Options.KeepAliveTimeout;
        }
#endif
        return accept;
    }

    private bool OriginAllowed(HttpRequest request, out string? origin)
    {
        origin = request.Headers.Origin.ToString();
        if (origin.Length == 0)
        {
            return true; // not a browser: nothing to hijack
        }

        string normalized = origin.TrimEnd('/');
        if (_options.AllowedOrigins.Count == 0)
        {
            return string.Equals(normalized, request.Scheme + "://" + request.Host.Value, StringComparison.OrdinalIgnoreCase);
        }

        foreach (string allowed in _options.AllowedOrigins)
        {
            if (allowed == "*" || string.Equals(normalized, allowed.TrimEnd('/'), StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    // The token a browser put in the query becomes this request's bearer header, and the host's default scheme runs
    // again: whatever scheme it is (bearer tokens, JWT), it reads the header it always reads.
    private async Task AuthenticateFromQueryAsync(HttpContext context)
    {
        if (_options.AccessTokenQueryParameter is not { } name
            || context.Request.Headers.Authorization.Count > 0
            || context.Request.Query[name] is not { Count: 1 } values
            || string.IsNullOrEmpty(values[0]))
        {
            return;
        }

        if (context.RequestServices.GetService<IAuthenticationSchemeProvider>() is not { } schemes
            || await schemes.GetDefaultAuthenticateSchemeAsync().ConfigureAwait(false) is not { } scheme)
        {
            return;
        }

        context.Request.Headers.Authorization = "Bearer " + values[0];

        // A handler of its own: the request's handler already ran (UseAuthentication) and keeps its answer for the
        // request, so asking it again would return the same "no token" result.
        IAuthenticationHandler? handler = await new AuthenticationHandlerProvider(schemes).GetHandlerAsync(context, scheme.Name).ConfigureAwait(false);
        AuthenticateResult? result = handler is null ? null : await handler.AuthenticateAsync().ConfigureAwait(false);
        if (result is { Succeeded: true })
        {
            context.User = result.Principal;
        }
    }

    private static async Task RefuseAsync(HttpContext context, string text)
    {
        if (context.RequestServices.GetService<IAuthenticationSchemeProvider>() is { } schemes && await schemes.GetDefaultChallengeSchemeAsync().ConfigureAwait(false) is not null)
        {
            await context.ChallengeAsync().ConfigureAwait(false);
            return;
        }

        context.Response.StatusCode = StatusCodes.Status401Unauthorized;
        await context.Response.WriteAsync(text, context.RequestAborted).ConfigureAwait(false);
    }
}
