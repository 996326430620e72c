using System;
using System.Buffers;
using System.IO;
using System.Net.WebSockets;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace GroupRelay.Transports.AspNetCore.Internal;

// How a connection ends badly: a protocol violation (the close frame delivered, then a brief linger) and a peer dead to keep-alive.
internal sealed partial class WebSocketRelayEndpoint
{
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
}
