using System;
using System.Buffers;
using System.Net.WebSockets;
using System.Threading;
using System.Threading.Tasks;

namespace GroupRelay.LoadTest.Client;

/// <summary>The receive loop every raw-WebSocket bench client shares: whole messages, pooled buffers, no buffer while idle.</summary>
internal static class WebSocketMessageLoop
{
    /// <summary>Handles one complete message; the span is valid only during the call.</summary>
    public delegate void MessageHandler(ReadOnlySpan<byte> message);

    /// <summary>Reads messages until the socket closes or breaks, handing each to <paramref name="handler"/>, then calls <paramref name="ended"/>.</summary>
    public static async Task RunAsync(WebSocket socket, MessageHandler handler, Action ended)
    {
        try
        {
            await ReadAsync(socket, handler);
        }
        finally
        {
            ended();
        }
    }

    /// <summary>Closes the socket politely if it is open (bounded), waits for its receive loop, then tears it down.</summary>
    public static async ValueTask CloseQuietlyAsync(WebSocket socket, Task receiveLoop)
    {
        try
        {
            if (socket.State == WebSocketState.Open)
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, string.Empty, timeout.Token);
                await receiveLoop.WaitAsync(TimeSpan.FromSeconds(2));
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or TimeoutException or ObjectDisposedException)
        {
            // Best effort: the benchmark is over for this connection.
        }
        finally
        {
            socket.Abort();
            socket.Dispose();
        }
    }

    private static async Task ReadAsync(WebSocket socket, MessageHandler handler)
    {
        try
        {
            while (true)
            {
                // An idle connection holds no buffer: wait for data with a zero-byte read, then rent one.
                ValueWebSocketReceiveResult peek = await socket.ReceiveAsync(Memory<byte>.Empty, CancellationToken.None);
                if (peek.MessageType == WebSocketMessageType.Close)
                {
                    return;
                }

                byte[] buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
                try
                {
                    int length = 0;
                    ValueWebSocketReceiveResult result;
                    do
                    {
                        if (length == buffer.Length)
                        {
                            byte[] larger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                            buffer.AsSpan(0, length).CopyTo(larger);
                            ArrayPool<byte>.Shared.Return(buffer);
                            buffer = larger;
                        }

                        result = await socket.ReceiveAsync(buffer.AsMemory(length), CancellationToken.None);
                        length += result.Count;
                    }
                    while (!result.EndOfMessage && result.MessageType != WebSocketMessageType.Close);

                    if (result.MessageType == WebSocketMessageType.Close)
                    {
                        return;
                    }

                    handler(buffer.AsSpan(0, length));
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                }
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The connection broke or was disposed: the caller reports it.
        }
    }
}
