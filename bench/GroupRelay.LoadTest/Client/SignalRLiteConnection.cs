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
/// A minimal client of SignalR's JSON hub protocol over a plain <see cref="ClientWebSocket"/>: handshake, then
/// invocations separated by 0x1E. It exists because the official client deserialises every argument of every
/// invocation, which on one client core saturates before the SignalR server does; this one counts messages the way
/// the GroupRelay and raw clients do, so the server's numbers are its own. Same server, same hub, same frames.
/// </summary>
internal sealed class SignalRLiteConnection : IBenchConnection
{
    private const byte RecordSeparator = 0x1e;
    private static readonly byte[] Handshake = Encoding.UTF8.GetBytes("{\"protocol\":\"json\",\"version\":1}\u001e");
    private static readonly byte[] MessageInvocation = Encoding.UTF8.GetBytes("\"target\":\"message\"");
    private static readonly byte[] WelcomeInvocation = Encoding.UTF8.GetBytes("\"target\":\"welcome\"");
    private static readonly byte[] TimestampKey = Encoding.UTF8.GetBytes("\"t\":");

    private readonly ClientWebSocket _socket = new();
    private readonly Uri _uri;
    private readonly DeliverySink _sink;
    private readonly TaskCompletionSource _welcome = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly byte[] _sendBuffer = new byte[512];
    private Task _receiveLoop = Task.CompletedTask;
    private volatile bool _disposing;

    public SignalRLiteConnection(Uri wsHubUri, string user, DeliverySink sink)
    {
        _uri = new Uri(wsHubUri + "?access_token=" + Uri.EscapeDataString(user));
        _sink = sink;
        _socket.Options.KeepAliveInterval = TimeSpan.Zero;
    }

    public async Task ConnectAsync(CancellationToken cancellationToken)
    {
        await _socket.ConnectAsync(_uri, cancellationToken);
        await _socket.SendAsync(Handshake, WebSocketMessageType.Text, endOfMessage: true, cancellationToken);
        _receiveLoop = Task.Run(ReceiveLoopAsync, CancellationToken.None);
        await _welcome.Task.WaitAsync(cancellationToken);
    }

    public ValueTask SendAsync(string group, long sentTimestamp, long counter)
    {
        Span<byte> buffer = _sendBuffer;
        int length = Encoding.ASCII.GetBytes("{\"type\":1,\"target\":\"Send\",\"arguments\":[\"", buffer);
        length += Encoding.UTF8.GetBytes(group, buffer[length..]);
        length += Encoding.ASCII.GetBytes("\",{\"t\":", buffer[length..]);
        Utf8Formatter.TryFormat(sentTimestamp, buffer[length..], out int written);
        length += written;
        length += Encoding.ASCII.GetBytes(",\"n\":", buffer[length..]);
        Utf8Formatter.TryFormat(counter, buffer[length..], out written);
        length += written;
        length += Encoding.ASCII.GetBytes(",\"x\":\"" + Payload.Text + "\"}]}\u001e", buffer[length..]);
        return _socket.SendAsync(_sendBuffer.AsMemory(0, length), WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);
    }

    public ValueTask DisposeAsync()
    {
        _disposing = true;
        return WebSocketMessageLoop.CloseQuietlyAsync(_socket, _receiveLoop);
    }

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
            int end = frame.IndexOf(RecordSeparator);
            ReadOnlySpan<byte> record = end < 0 ? frame : frame[..end];
            frame = end < 0 ? ReadOnlySpan<byte>.Empty : frame[(end + 1)..];
            if (record.IndexOf(MessageInvocation) >= 0)
            {
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
            }
            else if (record.IndexOf(WelcomeInvocation) >= 0)
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
