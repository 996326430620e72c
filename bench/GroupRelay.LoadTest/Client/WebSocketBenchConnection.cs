using System;
using System.Buffers;
using System.Buffers.Text;
using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace GroupRelay.LoadTest.Client;

/// <summary>
/// A plain <see cref="ClientWebSocket"/> client for GroupRelay (its own protocol) and for the raw ceiling (bare body
/// frames). Receiving counts <c>message</c> lines without a JSON parser (and in latency mode reads only the body's
/// <c>"t"</c>), so the client stays cheap next to the server it measures.
/// </summary>
internal sealed class WebSocketBenchConnection : IBenchConnection
{
    private static readonly byte[] MessagePrefix = Encoding.UTF8.GetBytes("{\"type\":\"message\"");
    private static readonly byte[] RawPrefix = Encoding.UTF8.GetBytes("{\"t\":");
    private static readonly byte[] TimestampKey = Encoding.UTF8.GetBytes("\"t\":");
    private static readonly byte[] WelcomePrefix = Encoding.UTF8.GetBytes("{\"type\":\"welcome\"");

    private readonly ClientWebSocket _socket = new();
    private readonly Uri _uri;
    private readonly bool _raw;
    private readonly DeliverySink _sink;
    private readonly TaskCompletionSource _welcome = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly byte[] _sendBuffer = new byte[512];
    private Task _receiveLoop = Task.CompletedTask;
    private volatile bool _disposing;

    /// <param name="uri">The server's WebSocket URI for this user (and, for the raw server, its target list).</param>
    /// <param name="raw">True for the raw ceiling: frames are bare bodies.</param>
    /// <param name="sink">Where deliveries are reported.</param>
    public WebSocketBenchConnection(Uri uri, bool raw, DeliverySink sink)
    {
        _uri = uri;
        _raw = raw;
        _sink = sink;
        _socket.Options.KeepAliveInterval = TimeSpan.Zero;
        if (!raw)
        {
            _socket.Options.AddSubProtocol("grouprelay.v1");
        }
    }

    public async Task ConnectAsync(CancellationToken cancellationToken)
    {
        await _socket.ConnectAsync(_uri, cancellationToken);
        _receiveLoop = Task.Run(ReceiveLoopAsync, CancellationToken.None);
        await _welcome.Task.WaitAsync(cancellationToken);
    }

    public ValueTask SendAsync(string group, long sentTimestamp, long counter)
    {
        Span<byte> buffer = _sendBuffer;
        int length = 0;
        if (!_raw)
        {
            length += Write(buffer, "{\"type\":\"send\",\"group\":\"");
            length += Encoding.UTF8.GetBytes(group, buffer[length..]);
            length += Write(buffer[length..], "\",\"body\":");
        }

        length += Write(buffer[length..], "{\"t\":");
        Utf8Formatter.TryFormat(sentTimestamp, buffer[length..], out int written);
        length += written;
        length += Write(buffer[length..], ",\"n\":");
        Utf8Formatter.TryFormat(counter, buffer[length..], out written);
        length += written;
        length += Write(buffer[length..], ",\"x\":\"" + Payload.Text + "\"}");
        if (!_raw)
        {
            buffer[length++] = (byte)'}';
        }

        return _socket.SendAsync(_sendBuffer.AsMemory(0, length), WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);
    }

    public ValueTask DisposeAsync()
    {
        _disposing = true;
        return WebSocketMessageLoop.CloseQuietlyAsync(_socket, _receiveLoop);
    }

    private static int Write(Span<byte> destination, string ascii) => Encoding.ASCII.GetBytes(ascii, destination);

    private Task ReceiveLoopAsync() => WebSocketMessageLoop.RunAsync(_socket, Process, OnEnded);

    private void OnEnded()
    {
        _welcome.TrySetException(new InvalidOperationException("the connection closed before it was registered"));
        if (!_disposing)
        {
            _sink.ConnectionLost(DeliverySink.Reason(_socket));
        }
    }

    private void Process(ReadOnlySpan<byte> frame)
    {
        long now = _sink.MeasureLatency ? Stopwatch.GetTimestamp() : 0;
        int messages = 0;
        while (!frame.IsEmpty)
        {
            int newline = frame.IndexOf((byte)'\n');
            ReadOnlySpan<byte> line = newline < 0 ? frame : frame[..newline];
            frame = newline < 0 ? ReadOnlySpan<byte>.Empty : frame[(newline + 1)..];
            if (line.StartsWith(_raw ? RawPrefix : MessagePrefix))
            {
                if (_sink.MeasureLatency)
                {
                    int key = line.IndexOf(TimestampKey);
                    if (key >= 0 && Utf8Parser.TryParse(line[(key + TimestampKey.Length)..], out long sent, out _))
                    {
                        _sink.Delivered(sent, now);
                        continue;
                    }
                }

                messages++;
            }
            else if (line.StartsWith(WelcomePrefix))
            {
                _welcome.TrySetResult();
            }
        }

        if (messages > 0)
        {
            _sink.Delivered(messages);
        }
    }
}
