using System;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Fleck;

namespace GroupRelay.Transports.Fleck.Internal;

// The send side of IRelaySocket: text frames from the session, and the keep-alive ping.
internal sealed partial class FleckRelayConnection
{
    /// <inheritdoc />
    public async ValueTask SendAsync(ReadOnlyMemory<byte> utf8Text, CancellationToken cancellationToken = default)
    {
        if (!_socket.IsAvailable)
        {
            // Fleck would log a warning and fault the task (WebSocketConnection.cs:85-93); the result is the same.
            throw new ConnectionNotAvailableException("The Fleck connection is closing or closed.");
        }

        // Send(string) sends a text frame; Send(byte[]) would send a binary one. Fleck encodes the string again.
        Task? send = _socket.Send(Encoding.UTF8.GetString(utf8Text.Span))
            ?? throw new ConnectionNotAvailableException("The Fleck socket is closed.");
        await send.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Queues a keep-alive ping, next to the writer loop's sends (Fleck sends pongs the same way).</summary>
    public void SendPing()
    {
        if (Volatile.Read(ref _phase) != Running || !_socket.IsAvailable)
        {
            return;
        }

        try
        {
            // SocketWrapper.Send returns null instead of a task once the socket is closed (SocketWrapper.cs:170-171).
            _socket.SendPing(Array.Empty<byte>())?.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
        catch (Exception)
        {
            // Runs on a timer: a connection that closed in between reports its end through OnClose, not here.
        }
    }
}
