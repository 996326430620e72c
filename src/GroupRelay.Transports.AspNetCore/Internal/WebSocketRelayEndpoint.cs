using System;
using System.Buffers;
using System.Linq;
using System.Net.WebSockets;
using System.Security.Claims;
using System.Threading.Tasks;
using GroupRelay.Transports;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace GroupRelay.Transports.AspNetCore.Internal;

/// <summary>
/// The request delegate behind <c>MapGroupRelay</c>: authenticates, upgrades, and runs the connection's receive loop.
/// All protocol logic is in GroupRelay.Core; this class only moves frames between Kestrel and a <see cref="RelaySession"/>.
/// </summary>
internal sealed class WebSocketRelayEndpoint
{
    // Idle connections hold no receive buffer: a zero-byte read waits for data, then a buffer is rented for one frame.
    private const int InitialReceiveBuffer = 4096;

    private readonly RelayConnectionHandler _handler;
    private readonly GroupRelayEndpointOptions _options;
    private readonly ILogger _logger;

    public WebSocketRelayEndpoint(RelayConnectionHandler handler, GroupRelayEndpointOptions options, IServiceProvider services)
    {
        _handler = handler;
        _options = options;
        _logger = services.GetService<ILoggerFactory>()?.CreateLogger("GroupRelay.Transports.AspNetCore") ?? NullLogger.Instance;
    }

    public async Task HandleAsync(HttpContext context)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            await context.Response.WriteAsync("GroupRelay: this endpoint accepts WebSocket upgrade requests only.", context.RequestAborted).ConfigureAwait(false);
            return;
        }

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

        string? subProtocol = context.WebSockets.WebSocketRequestedProtocols.Contains(_options.SubProtocol, StringComparer.Ordinal) ? _options.SubProtocol : null;
        using WebSocket webSocket = await context.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext
        {
            SubProtocol = subProtocol,
            KeepAliveInterval = _handler.Options.KeepAliveInterval,
        }).ConfigureAwait(false);

        RelaySession session = await _handler.AcceptAsync(userId, new WebSocketRelaySocket(webSocket), context.RequestAborted).ConfigureAwait(false);
        try
        {
            await ReceiveLoopAsync(webSocket, session).ConfigureAwait(false);
        }
        finally
        {
            await session.DisposeAsync().ConfigureAwait(false);
            if (webSocket.State != WebSocketState.Closed)
            {
                webSocket.Abort();
            }
        }
    }

    private async Task ReceiveLoopAsync(WebSocket webSocket, RelaySession session)
    {
        int maxFrame = session.MaxFrameBytes;
        string reason = "closed";
        try
        {
            while (true)
            {
                ValueWebSocketReceiveResult peek = await webSocket.ReceiveAsync(Memory<byte>.Empty, default).ConfigureAwait(false);
                if (peek.MessageType == WebSocketMessageType.Close)
                {
                    await OnCloseAsync(webSocket, session).ConfigureAwait(false);
                    return;
                }

                if (peek.EndOfMessage)
                {
                    // An empty message: there is nothing more to read for it.
                    await DispatchAsync(session, peek.MessageType, ReadOnlyMemory<byte>.Empty).ConfigureAwait(false);
                    continue;
                }

                byte[] buffer = ArrayPool<byte>.Shared.Rent(InitialReceiveBuffer);
                try
                {
                    int length = 0;
                    bool tooLarge = false;
                    ValueWebSocketReceiveResult result;
                    do
                    {
                        if (length == buffer.Length)
                        {
                            if (tooLarge)
                            {
                                length = 0; // discard the rest of an oversized frame while the close is under way
                            }
                            else
                            {
                                byte[] larger = ArrayPool<byte>.Shared.Rent(Math.Min(buffer.Length * 2, maxFrame + 1));
                                buffer.AsSpan(0, length).CopyTo(larger);
                                ArrayPool<byte>.Shared.Return(buffer);
                                buffer = larger;
                            }
                        }

                        result = await webSocket.ReceiveAsync(buffer.AsMemory(length), default).ConfigureAwait(false);
                        length += result.Count;
                        if (!tooLarge && length > maxFrame)
                        {
                            tooLarge = true;
                            session.ReceiveTooLarge();
                        }
                    }
                    while (!result.EndOfMessage && result.MessageType != WebSocketMessageType.Close);

                    if (result.MessageType == WebSocketMessageType.Close)
                    {
                        await OnCloseAsync(webSocket, session).ConfigureAwait(false);
                        return;
                    }

                    if (tooLarge)
                    {
                        continue;
                    }

                    await DispatchAsync(session, result.MessageType, buffer.AsMemory(0, length)).ConfigureAwait(false);
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                }
            }
        }
        catch (WebSocketException ex)
        {
            reason = ex.WebSocketErrorCode.ToString();
        }
        catch (OperationCanceledException)
        {
            reason = "aborted";
        }
        catch (ObjectDisposedException)
        {
            reason = "aborted";
        }
        finally
        {
            TransportLog.ReceiveEnded(_logger, session.Connection.ConnectionId, reason);
        }
    }

    private static ValueTask DispatchAsync(RelaySession session, WebSocketMessageType type, ReadOnlyMemory<byte> payload)
    {
        if (session.IsClosing)
        {
            return ValueTask.CompletedTask;
        }

        if (type == WebSocketMessageType.Binary)
        {
            session.ReceiveBinary();
            return ValueTask.CompletedTask;
        }

        return session.ReceiveTextAsync(payload);
    }

    private static Task OnCloseAsync(WebSocket webSocket, RelaySession session)
    {
        // A close the server started is now complete; a close the client started is answered by the writer loop.
        return session.IsClosing ? Task.CompletedTask : session.ReceiveCloseAsync((int?)webSocket.CloseStatus);
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
