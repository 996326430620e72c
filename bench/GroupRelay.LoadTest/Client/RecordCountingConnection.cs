using System;
using System.Buffers.Text;
using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace GroupRelay.LoadTest.Client;

/// <summary>
/// What the cheap bench clients share: one <see cref="ClientWebSocket"/>, a receive loop that splits each message into
/// records on a separator byte and counts the deliveries among them without a JSON parser (in latency mode it reads only
/// the body's <c>"t"</c>), the wait for the server's welcome, and closing. A subclass says what a record is.
/// </summary>
internal abstract class RecordCountingConnection : IBenchConnection
{
    private static readonly byte[] TimestampKey = Encoding.UTF8.GetBytes("\"t\":");

    private readonly Uri _uri;
    private readonly byte _separator;
    private readonly DeliverySink _sink;
    private readonly TaskCompletionSource _welcome = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _receiveLoop = Task.CompletedTask;
    private volatile bool _disposing;

    /// <param name="uri">The server's WebSocket URI for this user.</param>
    /// <param name="separator">The byte between records of one WebSocket message.</param>
    /// <param name="sink">Where deliveries are reported.</param>
    protected RecordCountingConnection(Uri uri, byte separator, DeliverySink sink)
    {
        _uri = uri;
        _separator = separator;
        _sink = sink;
        Socket.Options.KeepAliveInterval = TimeSpan.Zero;
    }

    /// <summary>What a record is.</summary>
    protected enum RecordKind
    {
        Other,
        Delivery,
        Welcome,
    }

    protected ClientWebSocket Socket { get; } = new();

    /// <summary>A buffer for building one outgoing frame.</summary>
    protected byte[] SendBuffer { get; } = new byte[512];

    public async Task ConnectAsync(CancellationToken cancellationToken)
    {
        await Socket.ConnectAsync(_uri, cancellationToken);
        await AfterConnectAsync(cancellationToken);
        _receiveLoop = Task.Run(() => WebSocketMessageLoop.RunAsync(Socket, Process, OnEnded), CancellationToken.None);
        await _welcome.Task.WaitAsync(cancellationToken);
    }

    public abstract ValueTask SendAsync(string group, long sentTimestamp, long counter);

    public ValueTask DisposeAsync()
    {
        _disposing = true;
        return WebSocketMessageLoop.CloseQuietlyAsync(Socket, _receiveLoop);
    }

    /// <summary>Runs once the socket is open, before the receive loop starts (a protocol handshake).</summary>
    protected virtual Task AfterConnectAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    protected abstract RecordKind Classify(ReadOnlySpan<byte> record);

    /// <summary>Sends the first <paramref name="length"/> bytes of <see cref="SendBuffer"/> as one text frame.</summary>
    protected ValueTask SendBufferAsync(int length)
        => Socket.SendAsync(SendBuffer.AsMemory(0, length), WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);

    /// <summary>Appends "{"t":TS,"n":N,"x":"…"}", the body every system sends, at <paramref name="length"/>.</summary>
    protected int WriteBody(int length, long sentTimestamp, long counter)
    {
        Span<byte> buffer = SendBuffer;
        length += Encoding.ASCII.GetBytes("{\"t\":", buffer[length..]);
        Utf8Formatter.TryFormat(sentTimestamp, buffer[length..], out int written);
        length += written;
        length += Encoding.ASCII.GetBytes(",\"n\":", buffer[length..]);
        Utf8Formatter.TryFormat(counter, buffer[length..], out written);
        length += written;
        length += Encoding.ASCII.GetBytes(",\"x\":\"" + Payload.Text + "\"}", buffer[length..]);
        return length;
    }

    private void OnEnded()
    {
        _welcome.TrySetException(new InvalidOperationException("the connection closed before it was registered"));
        if (!_disposing)
        {
            _sink.ConnectionLost(DeliverySink.Reason(Socket));
        }
    }

    private void Process(ReadOnlySpan<byte> frame)
    {
        long now = _sink.MeasureLatency ? Stopwatch.GetTimestamp() : 0;
        int messages = 0;
        while (!frame.IsEmpty)
        {
            int end = frame.IndexOf(_separator);
            ReadOnlySpan<byte> record = end < 0 ? frame : frame[..end];
            frame = end < 0 ? ReadOnlySpan<byte>.Empty : frame[(end + 1)..];
            switch (Classify(record))
            {
                case RecordKind.Delivery:
                    if (_sink.MeasureLatency)
                    {
                        int key = record.IndexOf(TimestampKey);
                        if (key >= 0 && Utf8Parser.TryParse(record[(key + TimestampKey.Length)..], out long sent, out _))
                        {
                            _sink.Delivered(sent, now);
                            continue;
                        }
                    }

                    messages++;
                    break;
                case RecordKind.Welcome:
                    _welcome.TrySetResult();
                    break;
            }
        }

        if (messages > 0)
        {
            _sink.Delivered(messages);
        }
    }
}
