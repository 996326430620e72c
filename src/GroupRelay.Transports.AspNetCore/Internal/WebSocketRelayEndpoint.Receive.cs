using System;
using System.Buffers;
using System.Net.WebSockets;
using System.Numerics;
using System.Threading.Tasks;
using GroupRelay.Transports;

namespace GroupRelay.Transports.AspNetCore.Internal;

// The receive loop: frames from Kestrel to the session, within MaxFrameBytes.
internal sealed partial class WebSocketRelayEndpoint
{
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
}
