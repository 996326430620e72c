using System;
using System.IO;
using System.Net;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Threading.Tasks;
using Fleck;

namespace GroupRelay.Transports.Fleck.Internal;

/// <summary>
/// Wraps Fleck's sockets so that the frames a client sends in the same TCP segment as its handshake request (without
/// waiting for the 101) reach the frame reader instead of being dropped.
/// </summary>
/// <remarks>
/// <para>
/// Fleck 1.2.0 parses the handshake from the bytes of its first read(s) and then hands only later reads to the handler
/// (WebSocketConnection.cs:149-170): whatever followed the request in the same read stays in the parsed request's
/// <c>Bytes</c>, which no public API exposes. <see cref="WebSocketServer.ListenerSocket"/> is public, though: installed
/// there, this wrapper wraps every accepted socket and ends each read of the handshake at its blank line, keeping the
/// bytes behind it for the next read, which Fleck then gives to the handler like any other.
/// </para>
/// <para>
/// After the handshake it only delegates: one flag test per read. Fleck reads at most 4 KiB at a time, so what is kept
/// fits one later read. Not installed again if Fleck replaces its listener after a listen error
/// (<see cref="WebSocketServer.RestartAfterListenError"/>): connections accepted then lose such frames as before.
/// </para>
/// </remarks>
internal sealed class HandshakeBoundarySocket : ISocket
{
    private static readonly byte[] EndOfHeaders = "\r\n\r\n"u8.ToArray();

    private readonly ISocket _inner;
    private bool _handshakeRead;
    private int _matched;
    private byte[]? _behindHandshake;

    public HandshakeBoundarySocket(ISocket inner)
    {
        _inner = inner;
    }

    public bool Connected => _inner.Connected;

    public string RemoteIpAddress => _inner.RemoteIpAddress;

    public int RemotePort => _inner.RemotePort;

    public Stream Stream => _inner.Stream;

    public bool NoDelay
    {
        get => _inner.NoDelay;
        set => _inner.NoDelay = value;
    }

    public EndPoint LocalEndPoint => _inner.LocalEndPoint;

    // Fleck's socket accepts null once the listener is closed, and Fleck's server ignores it (WebSocketServer.cs:130).
    public Task<ISocket> Accept(Action<ISocket> callback, Action<Exception> error)
        => _inner.Accept(accepted => callback(accepted is null ? null! : new HandshakeBoundarySocket(accepted)), error);

    public Task<int> Receive(byte[] buffer, Action<int> callback, Action<Exception> error, int offset = 0)
    {
        if (_behindHandshake is { } kept)
        {
            // The frames that came with the handshake: Fleck reads them now, as if they had just arrived.
            int count = Math.Min(kept.Length, buffer.Length - offset);
            kept.AsSpan(0, count).CopyTo(buffer.AsSpan(offset));
            _behindHandshake = count < kept.Length ? kept[count..] : null;
            try
            {
                // As Fleck's own socket: an exception of the callback (a protocol error, say) goes to error.
                callback(count);
            }
            catch (Exception ex)
            {
                error(ex);
            }

            return Task.FromResult(count);
        }

        if (_handshakeRead)
        {
            return _inner.Receive(buffer, callback, error, offset);
        }

        return _inner.Receive(buffer, read => callback(read > 0 ? EndReadAtHandshake(buffer, offset, read) : read), error, offset);
    }

    public Task Send(byte[] buffer, Action callback, Action<Exception> error) => _inner.Send(buffer, callback, error);

    public Task Authenticate(X509Certificate2 certificate, SslProtocols enabledSslProtocols, Action callback, Action<Exception> error)
        => _inner.Authenticate(certificate, enabledSslProtocols, callback, error);

    public void Dispose() => _inner.Dispose();

    public void Close() => _inner.Close();

    public void Bind(EndPoint ipLocal) => _inner.Bind(ipLocal);

    public void Listen(int backlog) => _inner.Listen(backlog);

    /// <summary>Returns how many of the <paramref name="read"/> bytes Fleck gets now: up to the end of the request's headers.</summary>
    private int EndReadAtHandshake(byte[] buffer, int offset, int read)
    {
        for (int i = 0; i < read; i++)
        {
            // On a mismatch the match restarts: at 1 if the byte is '\r' (the only border of "\r\n\r\n" that can survive it).
            byte b = buffer[offset + i];
            _matched = b == EndOfHeaders[_matched] ? _matched + 1 : b == (byte)'\r' ? 1 : 0;
            if (_matched == EndOfHeaders.Length)
            {
                _handshakeRead = true;
                int handshakeEnd = i + 1;
                if (handshakeEnd < read)
                {
                    _behindHandshake = buffer.AsSpan(offset + handshakeEnd, read - handshakeEnd).ToArray();
                }

                return handshakeEnd;
            }
        }

        return read;
    }
}
