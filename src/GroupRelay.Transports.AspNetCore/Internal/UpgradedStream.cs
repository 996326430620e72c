using System;
using System.IO;
using System.Threading;
using System.Threading.Tasks;

namespace GroupRelay.Transports.AspNetCore.Internal;

/// <summary>
/// Kestrel's upgraded stream, as the WebSocket sees it: passes everything through, and notices when .NET's WebSocket
/// fails the connection on its own (a close frame the relay did not ask for: a protocol violation, 1002, or invalid
/// UTF-8, 1007). .NET then aborts at once, which disposes this stream; that dispose is held back so the endpoint can
/// still read and discard what the client sends (<see cref="WebSocketRelayEndpoint"/>), and done by
/// <see cref="Release"/>.
/// </summary>
internal sealed class UpgradedStream : Stream
{
    private const byte CloseFrameStart = 0x88; // FIN and opcode 8: a server's close frame (never fragmented)

    private readonly Stream _inner;
    private volatile bool _relayCloses;
    private volatile bool _failedByWebSocket;
    private int _released;

    public UpgradedStream(Stream inner) => _inner = inner;

    /// <summary>True once .NET's WebSocket sent a close frame the relay did not ask for.</summary>
    public bool FailedByWebSocket => _failedByWebSocket;

    /// <summary>The stream under the WebSocket, to drain after a failure.</summary>
    public Stream Inner => _inner;

    public override bool CanRead => true;

    public override bool CanWrite => true;

    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    /// <summary>The relay is about to send a close frame of its own (<see cref="WebSocketRelaySocket.CloseAsync"/>).</summary>
    public void RelayCloses() => _relayCloses = true;

    /// <summary>Disposes Kestrel's stream (also when the WebSocket's dispose was held back). Idempotent.</summary>
    public void Release()
    {
        if (Interlocked.Exchange(ref _released, 1) == 0)
        {
            _inner.Dispose();
        }
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        => _inner.ReadAsync(buffer, cancellationToken);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => _inner.ReadAsync(buffer, offset, count, cancellationToken);

    public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, count);

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Writing(buffer.Span);
        return _inner.WriteAsync(buffer, cancellationToken);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        Writing(buffer.AsSpan(offset, count));
        return _inner.WriteAsync(buffer, offset, count, cancellationToken);
    }

    public override void Write(byte[] buffer, int offset, int count)
    {
        Writing(buffer.AsSpan(offset, count));
        _inner.Write(buffer, offset, count);
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => _inner.FlushAsync(cancellationToken);

    public override void Flush() => _inner.Flush();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    private void Writing(ReadOnlySpan<byte> bytes)
    {
        // .NET's WebSocket writes each frame, header first, in one call.
        if (!bytes.IsEmpty && bytes[0] == CloseFrameStart && !_relayCloses)
        {
            _failedByWebSocket = true;
        }
    }

    protected override void Dispose(bool disposing)
    {
        // After a failure of its own the WebSocket aborts at once; the endpoint drains, then releases.
        if (disposing && !_failedByWebSocket)
        {
            Release();
        }

        base.Dispose(disposing);
    }
}
