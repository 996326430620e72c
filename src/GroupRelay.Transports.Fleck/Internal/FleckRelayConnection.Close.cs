using System;
using System.Net.Sockets;
using System.Text;
using System.Text.Unicode;
using System.Threading;
using System.Threading.Tasks;
using Fleck;
using Fleck.Handlers;

namespace GroupRelay.Transports.Fleck.Internal;

// Closing: the close frame with its reason, abort, and Fleck's OnClose and OnError.
internal sealed partial class FleckRelayConnection
{
    // A close reason is at most 123 bytes of UTF-8 (RFC 6455 section 5.5: control frame payload <= 125).
    private const int MaxCloseReasonBytes = 123;

    /// <inheritdoc />
    public ValueTask CloseAsync(int closeCode, string reason, CancellationToken cancellationToken = default)
    {
        CloseTransport(closeCode, reason);
        return default;
    }

    /// <inheritdoc />
    public void Abort()
    {
        Ended("aborted");
        CloseTcp();
    }

    /// <summary>Closes the connection with a close frame: Fleck sends it, then closes the TCP connection (no wait for the reply).</summary>
    private void CloseTransport(int closeCode, string reason)
    {
        if (!_socket.IsAvailable)
        {
            // Already closing or gone: Fleck's Close would do nothing (WebSocketConnection.cs:113-114).
            Ended("closed");
            return;
        }

        Volatile.Write(ref _closeReason, reason ?? string.Empty);
        _socket.Close(closeCode);
    }

    /// <summary>Fleck has no abort: close the TCP socket under it, without a close frame.</summary>
    private void CloseTcp()
    {
        if (_socket is WebSocketConnection { Socket: { } tcp })
        {
            try
            {
                tcp.Close();
            }
            catch (ObjectDisposedException)
            {
            }
        }

        _transportClosed.TrySetResult();
    }

    private void OnClose()
    {
        ShutdownSend();
        _transportClosed.TrySetResult();
        Ended("closed");
    }

    /// <summary>
    /// Fleck calls OnClose right before it closes the socket, while its read is still pending
    /// (WebSocketConnection.cs:221-229). .NET closes a socket whose pending operations it had to cancel abortively,
    /// with a reset that can overtake the close frame just sent, unless the send side was shut down first; so it is
    /// shut down here, and the client sees the close frame, then an orderly end. Not reachable under TLS (wss).
    /// </summary>
    private void ShutdownSend()
    {
        if (_socket is WebSocketConnection { Socket.Stream: NetworkStream { Socket: { } tcp } })
        {
            try
            {
                tcp.Shutdown(SocketShutdown.Send);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                // Already reset or closed: nothing left to keep orderly.
            }
        }
    }

    private void OnError(Exception exception)
    {
        FleckTransportLog.SocketError(_server.Logger, _connectionId, exception);
        Ended("error");
    }

    /// <summary>Replaces Hybi13's close frame (the code alone) with code and reason.</summary>
    private byte[] BuildCloseFrame(int code)
    {
        string reason = Volatile.Read(ref _closeReason);
        byte[] payload = new byte[2 + Math.Min(Encoding.UTF8.GetByteCount(reason), MaxCloseReasonBytes)];
        payload[0] = (byte)(code >> 8);
        payload[1] = (byte)code;
        int length = Encoding.UTF8.GetByteCount(reason);
        if (length <= MaxCloseReasonBytes)
        {
            Encoding.UTF8.GetBytes(reason, payload.AsSpan(2));
        }
        else
        {
            // Cut at a character boundary so the reason stays valid UTF-8.
            Utf8.FromUtf16(reason, payload.AsSpan(2), out _, out int written, replaceInvalidSequences: true, isFinalBlock: false);
            Array.Resize(ref payload, 2 + written);
        }

        return Hybi13Handler.FrameData(payload, FrameType.Close);
    }
}
