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
    private readonly UpgradedStream? _stream;

    /// <param name="socket">The accepted WebSocket.</param>
    /// <param name="stream">The stream it runs on, when the endpoint could capture it (HTTP/1.1): told of the relay's own closes.</param>
    public WebSocketRelaySocket(WebSocket socket, UpgradedStream? stream)
    {
        _socket = socket;
        _stream = stream;
    }

    public ValueTask SendAsync(ReadOnlyMemory<byte> utf8Text, CancellationToken cancellationToken = default)
        => _socket.SendAsync(utf8Text, WebSocketMessageType.Text, endOfMessage: true, cancellationToken);

    public async ValueTask CloseAsync(int closeCode, string reason, CancellationToken cancellationToken = default)
    {
        if (_socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
        {
            _stream?.RelayCloses();
            await _socket.CloseOutputAsync((WebSocketCloseStatus)closeCode, reason, cancellationToken).ConfigureAwait(false);
        }
    }

    public void Abort()
    {
        // After a protocol violation .NET's WebSocket has aborted itself, and the endpoint ends the connection once the
        // client has had the time to read the close frame: aborting here would reset it (the HTTP connection with it).
        if (_stream is not { FailedByWebSocket: true })
        {
            _socket.Abort();
        }
    }
}
