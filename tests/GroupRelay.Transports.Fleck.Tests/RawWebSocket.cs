using System;
using System.Buffers.Binary;
using System.IO;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace GroupRelay.Transports.Fleck.Tests;

/// <summary>
/// A WebSocket client written on a bare TCP socket, for what ClientWebSocket cannot do: send broken frames, reset the
/// connection, see ping frames. Every read has a timeout.
/// </summary>
public sealed class RawWebSocket : IAsyncDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private readonly Socket _socket;
    private readonly NetworkStream _stream;

    private RawWebSocket(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: false);
    }

    public string HandshakeResponse { get; private set; } = string.Empty;

    /// <summary>
    /// Connects and completes the handshake. <paramref name="sendWithHandshake"/> (frames, say) goes out in the same
    /// write as the request, before the 101 was read, which browsers and standard clients never do.
    /// </summary>
    public static async Task<RawWebSocket> ConnectAsync(Uri relayUri, string? user, string? extraHeaders = null, byte[]? sendWithHandshake = null)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        using var timeout = new CancellationTokenSource(Timeout);
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, relayUri.Port), timeout.Token);
        var raw = new RawWebSocket(socket);
        string key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));
        string query = user is null ? string.Empty : "?access_token=" + Uri.EscapeDataString(user);
        string request = $"GET {relayUri.AbsolutePath}{query} HTTP/1.1\r\nHost: 127.0.0.1:{relayUri.Port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{extraHeaders}\r\n";
        byte[] handshake = [.. Encoding.ASCII.GetBytes(request), .. sendWithHandshake ?? []];
        await raw._stream.WriteAsync(handshake, timeout.Token);

        var response = new StringBuilder();
        byte[] one = new byte[1];
        while (!response.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
        {
            if (await raw._stream.ReadAsync(one, timeout.Token) == 0)
            {
                throw new IOException("Connection closed during the handshake: " + response);
            }

            response.Append((char)one[0]);
        }

        raw.HandshakeResponse = response.ToString();
        return raw;
    }

    /// <summary>Sends one frame; <paramref name="masked"/> false breaks RFC 6455 (clients must mask), and so do <paramref name="rsv"/> bits.</summary>
    public async Task SendFrameAsync(byte opcode, byte[] payload, bool masked = true, bool fin = true, byte rsv = 0)
        => await SendBytesAsync(Frame(opcode, payload, masked, fin, rsv));

    /// <summary>Sends bytes as they are, in one write (several frames, say).</summary>
    public async Task SendBytesAsync(byte[] bytes)
    {
        using var timeout = new CancellationTokenSource(Timeout);
        await _stream.WriteAsync(bytes, timeout.Token);
    }

    /// <summary>One client frame: FIN, the <paramref name="rsv"/> bits (0x70 mask) and the opcode, the length, the mask, the masked payload.</summary>
    public static byte[] Frame(byte opcode, byte[] payload, bool masked = true, bool fin = true, byte rsv = 0)
    {
        using var stream = new MemoryStream();
        stream.WriteByte((byte)((fin ? 0x80 : 0) | (rsv & 0x70) | opcode));
        byte maskBit = masked ? (byte)0x80 : (byte)0;
        if (payload.Length <= 125)
        {
            stream.WriteByte((byte)(maskBit | payload.Length));
        }
        else if (payload.Length <= ushort.MaxValue)
        {
            stream.WriteByte((byte)(maskBit | 126));
            byte[] length = new byte[2];
            BinaryPrimitives.WriteUInt16BigEndian(length, (ushort)payload.Length);
            stream.Write(length);
        }
        else
        {
            stream.WriteByte((byte)(maskBit | 127));
            byte[] length = new byte[8];
            BinaryPrimitives.WriteUInt64BigEndian(length, (ulong)payload.Length);
            stream.Write(length);
        }

        byte[] body = (byte[])payload.Clone();
        if (masked)
        {
            byte[] mask = RandomNumberGenerator.GetBytes(4);
            stream.Write(mask);
            for (int i = 0; i < body.Length; i++)
            {
                body[i] ^= mask[i % 4];
            }
        }

        stream.Write(body);
        return stream.ToArray();
    }

    public Task SendTextAsync(string text) => SendFrameAsync(0x1, Encoding.UTF8.GetBytes(text));

    /// <summary>Reads the next frame from the server (servers do not mask). Null when the connection ended.</summary>
    public async Task<(byte Opcode, byte[] Payload)?> ReceiveFrameAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? Timeout);
        byte[] header = new byte[2];
        if (!await ReadExactlyAsync(header, cts.Token))
        {
            return null;
        }

        long length = header[1] & 0x7F;
        if (length == 126)
        {
            byte[] extended = new byte[2];
            await ReadExactlyAsync(extended, cts.Token);
            length = BinaryPrimitives.ReadUInt16BigEndian(extended);
        }
        else if (length == 127)
        {
            byte[] extended = new byte[8];
            await ReadExactlyAsync(extended, cts.Token);
            length = (long)BinaryPrimitives.ReadUInt64BigEndian(extended);
        }

        byte[] payload = new byte[length];
        await ReadExactlyAsync(payload, cts.Token);
        return ((byte)(header[0] & 0x0F), payload);
    }

    /// <summary>Reads frames until a close frame and returns its code (null: the connection ended without one).</summary>
    public async Task<int?> ReceiveCloseAsync(TimeSpan? timeout = null)
    {
        DateTime deadline = DateTime.UtcNow + (timeout ?? Timeout);
        while (true)
        {
            TimeSpan left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
            {
                throw new TimeoutException("No close frame within the timeout.");
            }

            (byte Opcode, byte[] Payload)? frame;
            try
            {
                frame = await ReceiveFrameAsync(left);
            }
            catch (IOException)
            {
                return null;
            }

            if (frame is null)
            {
                return null;
            }

            if (frame.Value.Opcode == 0x8)
            {
                return frame.Value.Payload.Length >= 2 ? BinaryPrimitives.ReadUInt16BigEndian(frame.Value.Payload) : null;
            }
        }
    }

    /// <summary>Resets the connection: the server sees an error, not an orderly end, and no close frame.</summary>
    public void Reset()
    {
        _socket.LingerState = new LingerOption(true, 0);
        _socket.Close();
    }

    public ValueTask DisposeAsync()
    {
        _stream.Dispose();
        _socket.Dispose();
        return ValueTask.CompletedTask;
    }

    private async Task<bool> ReadExactlyAsync(byte[] buffer, CancellationToken cancellationToken)
    {
        int read = 0;
        while (read < buffer.Length)
        {
            int n = await _stream.ReadAsync(buffer.AsMemory(read), cancellationToken);
            if (n == 0)
            {
                return false;
            }

            read += n;
        }

        return true;
    }
}
