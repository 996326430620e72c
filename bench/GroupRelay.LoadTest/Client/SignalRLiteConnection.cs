using System;
using System.Net.WebSockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace GroupRelay.LoadTest.Client;

/// <summary>
/// A minimal client of SignalR's JSON hub protocol over a plain WebSocket: handshake, then invocations separated by
/// 0x1E. It exists because the official client deserialises every argument of every invocation, which on one client
/// core saturates before the SignalR server does; this one counts messages the way the GroupRelay and raw clients do,
/// so the server's numbers are its own. Same server, same hub, same frames.
/// </summary>
internal sealed class SignalRLiteConnection : RecordCountingConnection
{
    private const byte RecordSeparator = 0x1e;
    private static readonly byte[] Handshake = Encoding.UTF8.GetBytes("{\"protocol\":\"json\",\"version\":1}\u001e");
    private static readonly byte[] MessageInvocation = Encoding.UTF8.GetBytes("\"target\":\"message\"");
    private static readonly byte[] WelcomeInvocation = Encoding.UTF8.GetBytes("\"target\":\"welcome\"");

    public SignalRLiteConnection(Uri wsHubUri, string user, DeliverySink sink)
        : base(new Uri(wsHubUri + "?access_token=" + Uri.EscapeDataString(user)), RecordSeparator, sink)
    {
    }

    public override ValueTask SendAsync(string group, long sentTimestamp, long counter)
    {
        Span<byte> buffer = SendBuffer;
        int length = Encoding.ASCII.GetBytes("{\"type\":1,\"target\":\"Send\",\"arguments\":[\"", buffer);
        length += Encoding.UTF8.GetBytes(group, buffer[length..]);
        length += Encoding.ASCII.GetBytes("\",", buffer[length..]);
        length = WriteBody(length, sentTimestamp, counter);
        length += Encoding.ASCII.GetBytes("]}\u001e", buffer[length..]);
        return SendBufferAsync(length);
    }

    protected override Task AfterConnectAsync(CancellationToken cancellationToken)
        => Socket.SendAsync(Handshake, WebSocketMessageType.Text, endOfMessage: true, cancellationToken);

    protected override RecordKind Classify(ReadOnlySpan<byte> record)
        => record.IndexOf(MessageInvocation) >= 0 ? RecordKind.Delivery
            : record.IndexOf(WelcomeInvocation) >= 0 ? RecordKind.Welcome
            : RecordKind.Other;
}
