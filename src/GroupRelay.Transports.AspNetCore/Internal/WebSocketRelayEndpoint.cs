using System;
using System.Buffers;
using System.IO;
using System.Linq;
using System.Net.WebSockets;
using System.Numerics;
using System.Security.Claims;
using System.Threading;
using System.Threading.Tasks;
using GroupRelay.Transports;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
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
internal sealed class WebSocketRelayEndpoint
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
        CapturingUpgradeFeature? upgrade = await CaptureUpgradeAsync(context).ConfigureAwait(false);
        WebSocket webSocket = await context.WebSockets.AcceptWebSocketAsync(CreateAcceptContext(subProtocol)).ConfigureAwait(false);

        UpgradedStream? stream = upgrade?.Stream;
        RelaySession session;
        try
        {
            session = await _handler.AcceptAsync(userId, new WebSocketRelaySocket(webSocket, stream), context.RequestAborted).ConfigureAwait(false);
        }
        catch
        {
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

    /// <summary>
    /// Lets the upgrade of an HTTP/1.1 request go through a <see cref="CapturingUpgradeFeature"/>, so that the endpoint
    /// can read the upgraded stream after a protocol violation. <c>UseWebSockets</c> took the upgrade feature when it
    /// ran, before routing reached this endpoint; running its middleware again here (without the handshake it set) builds
    /// the handshake on the wrapper, with the same <see cref="WebSocketOptions"/> (origins, compression). Null for HTTP/2
    /// (extended CONNECT), where a violation still ends with a reset.
    /// </summary>
    private async Task<CapturingUpgradeFeature?> CaptureUpgradeAsync(HttpContext context)
    {
        if (context.Features.Get<IHttpUpgradeFeature>() is not { IsUpgradableRequest: true } upgrade)
        {
            return null;
        }

        // The middleware builds a handshake only where there is none yet.
        var capture = new CapturingUpgradeFeature(upgrade);
        context.Features.Set<IHttpUpgradeFeature>(capture);
        context.Features.Set<IHttpWebSocketFeature>(null);
        await _handshake.Invoke(context).ConfigureAwait(false);
        return capture;
    }

    /// <summary>
    /// After .NET's WebSocket failed the connection for a protocol violation (RFC 6455 section 5: 1002; invalid UTF-8:
    /// 1007), it has sent the close frame and given up reading. Closing the TCP connection now, with the client's later
    /// bytes unread, would reset it, and a reset discards the close frame before the client reads it (issue 11 #2: the
    /// browser saw 1006). So read and discard what the client still sends until it ends the connection, sends its close
    /// frame, or <see cref="ViolatorLinger"/> (at most <c>CloseTimeout</c>) has passed; the endpoint then returns and
    /// Kestrel ends the connection in order.
    /// </summary>
    private async Task LingerAsync(Stream stream, string connectionId)
    {
        TimeSpan limit = _handler.Options.CloseTimeout < ViolatorLinger ? _handler.Options.CloseTimeout : ViolatorLinger;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(4096);
        long discarded = 0;
        string end;
        using var deadline = new CancellationTokenSource(limit);
        try
        {
            while (true)
            {
                int read = await stream.ReadAsync(buffer, deadline.Token).ConfigureAwait(false);
                if (read == 0)
                {
                    end = "the client ended the connection";
                    break;
                }

                discarded += read;
                if (EndsWithClientClose(buffer.AsSpan(0, read)))
                {
                    end = "the client sent its close frame";
                    break;
                }
            }
        }
        catch (OperationCanceledException)
        {
            end = "the linger time ran out";
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or InvalidOperationException)
        {
            end = "the connection failed: " + ex.GetType().Name;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        TransportLog.LingeredAfterViolation(_logger, connectionId, discarded, end);
    }

    /// <summary>
    /// Whether <paramref name="read"/> ends with what a client sends when it answers a close frame: one masked close
    /// frame of 0 to 125 payload bytes. A guess (the framing after a violation is not to be trusted), good enough to stop
    /// waiting; a wrong guess only ends the linger early.
    /// </summary>
    private static bool EndsWithClientClose(ReadOnlySpan<byte> read)
    {
        for (int payload = 0; payload <= 125; payload++)
        {
            int start = read.Length - 6 - payload;
            if (start < 0)
            {
                break;
            }

            if (read[start] == 0x88 && read[start + 1] == (0x80 | payload))
            {
                return true;
            }
        }

        return false;
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

    /// <summary>
    /// Whether .NET aborted <paramref name="webSocket"/> because the peer did not answer a keep-alive ping. The pending
    /// receive fails as for any aborted connection; .NET keeps the keep-alive failure, and only that failure, as the
    /// inner exception of what the next call on the aborted socket throws, so one zero-byte receive tells.
    /// </summary>
    private bool FailedForKeepAlive(WebSocket webSocket)
    {
        if (!KeepAliveTimeoutEnabled(_handler.Options) || webSocket.State != WebSocketState.Aborted)
        {
            return false;
        }

        try
        {
            ValueTask<ValueWebSocketReceiveResult> probe = webSocket.ReceiveAsync(Memory<byte>.Empty, CancellationToken.None);
            if (!probe.IsCompleted)
            {
                _ = probe.AsTask();
                return false;
            }

            probe.GetAwaiter().GetResult();
            return false;
        }
        catch (WebSocketException ex)
        {
            return ex.InnerException is WebSocketException;
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or InvalidOperationException)
        {
            return false;
        }
    }

    private static bool KeepAliveTimeoutEnabled(GroupRelayOptions options)
    {
#if NET9_0_OR_GREATER
        return options.KeepAliveInterval > TimeSpan.Zero && options.KeepAliveTimeout > TimeSpan.Zero;
#else
        // .NET 8's WebSocket sends no ping (only unsolicited pongs), so a dead peer cannot be detected there.
        _ = options;
        return false;
#endif
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

                byte[] buffer = RentReceiveBuffer(Math.Min(InitialReceiveBuffer, maxFrame));
                try
                {
                    int length = 0;
                    bool tooLarge = false;
                    ValueWebSocketReceiveResult result;
                    do
                    {
                        if (tooLarge)
                        {
                            // Discard the rest of an oversized message while the close is under way.
                            result = await webSocket.ReceiveAsync(buffer.AsMemory(), default).ConfigureAwait(false);
                            continue;
                        }

                        if (length == maxFrame)
                        {
                            // The buffer holds MaxFrameBytes and the message is not over. A zero-byte read tells its
                            // end (an empty last fragment: the message is exactly the limit) from more payload (it is
                            // over the limit) without buffering a byte past the limit or waiting for that byte.
                            result = await webSocket.ReceiveAsync(Memory<byte>.Empty, default).ConfigureAwait(false);
                            if (!result.EndOfMessage && result.MessageType != WebSocketMessageType.Close)
                            {
                                tooLarge = true;
                                session.ReceiveTooLarge();
                            }

                            continue;
                        }

                        if (length == buffer.Length)
                        {
                            byte[] larger = RentReceiveBuffer(Math.Min(buffer.Length * 2, maxFrame));
                            buffer.AsSpan(0, length).CopyTo(larger);
                            ReturnReceiveBuffer(buffer);
                            buffer = larger;
                        }

                        // .NET's WebSocket fills the whole slice it is given before it returns (unless the message ends
                        // first), so the slice never reaches past the limit: otherwise the check would wait for bytes
                        // far beyond it (issue 11: 131,070 bytes of a declared 10 MiB frame were buffered, not refused).
                        result = await webSocket.ReceiveAsync(buffer.AsMemory(length, Math.Min(buffer.Length, maxFrame) - length), default).ConfigureAwait(false);
                        length += result.Count;
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
                    ReturnReceiveBuffer(buffer);
                }
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
            if (FailedForKeepAlive(webSocket))
            {
                reason = "keep-alive timeout";
                session.ReceiveKeepAliveTimeout();
            }
            else
            {
                reason = ex is WebSocketException socketError ? socketError.WebSocketErrorCode.ToString() : "aborted";
            }
        }
        finally
        {
            TransportLog.ReceiveEnded(_logger, session.Connection.ConnectionId, reason);
        }
    }

    /// <summary>
    /// A receive buffer of exactly <paramref name="size"/> bytes: from the pool when the size is a power of two (the
    /// pool's sizes), else allocated, so a connection never holds more than <c>MaxFrameBytes</c> of one frame (the pool
    /// would round 65,537 bytes up to 128 KiB).
    /// </summary>
    private static byte[] RentReceiveBuffer(int size)
        => BitOperations.IsPow2(size) ? ArrayPool<byte>.Shared.Rent(size) : GC.AllocateUninitializedArray<byte>(size);

    private static void ReturnReceiveBuffer(byte[] buffer)
    {
        if (BitOperations.IsPow2(buffer.Length))
        {
            ArrayPool<byte>.Shared.Return(buffer);
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
