using System;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Fleck;

namespace GroupRelay.Transports.Fleck.Internal;

// The send side of IRelaySocket: text frames from the session (the keep-alive ping is in the .KeepAlive part).
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
}
