using System;
using System.Net.WebSockets;
using System.Threading;
using System.Threading.Tasks;
using GroupRelay.Transports;

namespace GroupRelay.Transports.AspNetCore.Internal;

/// <summary>Adapts a Kestrel <see cref="WebSocket"/> to the core's <see cref="IRelaySocket"/>.</summary>
internal sealed class WebSocketRelaySocket : IRelaySocket
{
    private readonly WebSocket _socket;

    public WebSocketRelaySocket(WebSocket socket) => _socket = socket;

    public ValueTask SendAsync(ReadOnlyMemory<byte> utf8Text, CancellationToken cancellationToken = default)
        => _socket.SendAsync(utf8Text, WebSocketMessageType.Text, endOfMessage: true, cancellationToken);

    public async ValueTask CloseAsync(int closeCode, string reason, CancellationToken cancellationToken = default)
    {
        if (_socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
        {
            await _socket.CloseOutputAsync((WebSocketCloseStatus)closeCode, reason, cancellationToken).ConfigureAwait(false);
        }
    }

    public void Abort() => _socket.Abort();
}
