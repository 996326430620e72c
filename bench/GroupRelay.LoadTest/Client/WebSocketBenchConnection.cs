using System;
using System.Text;
using System.Threading.Tasks;

namespace GroupRelay.LoadTest.Client;

/// <summary>
/// A plain WebSocket client for GroupRelay (its own protocol, one frame per line) and for the raw ceiling (bare body
/// frames). It counts <c>message</c> lines without a JSON parser, so the client stays cheap next to the server it measures.
/// </summary>
internal sealed class WebSocketBenchConnection : RecordCountingConnection
{
    private static readonly byte[] MessagePrefix = Encoding.UTF8.GetBytes("{\"type\":\"message\"");
    private static readonly byte[] RawPrefix = Encoding.UTF8.GetBytes("{\"t\":");
    private static readonly byte[] WelcomePrefix = Encoding.UTF8.GetBytes("{\"type\":\"welcome\"");

    private readonly bool _raw;

    /// <param name="uri">The server's WebSocket URI for this user (and, for the raw server, its target list).</param>
    /// <param name="raw">True for the raw ceiling: frames are bare bodies.</param>
    /// <param name="sink">Where deliveries are reported.</param>
    public WebSocketBenchConnection(Uri uri, bool raw, DeliverySink sink)
        : base(uri, (byte)'\n', sink)
    {
        _raw = raw;
        if (!raw)
        {
            Socket.Options.AddSubProtocol("grouprelay.v1");
        }
    }

    public override ValueTask SendAsync(string group, long sentTimestamp, long counter)
    {
        Span<byte> buffer = SendBuffer;
        int length = 0;
        if (!_raw)
        {
            length += Encoding.ASCII.GetBytes("{\"type\":\"send\",\"group\":\"", buffer);
            length += Encoding.UTF8.GetBytes(group, buffer[length..]);
            length += Encoding.ASCII.GetBytes("\",\"body\":", buffer[length..]);
        }

        length = WriteBody(length, sentTimestamp, counter);
        if (!_raw)
        {
            buffer[length++] = (byte)'}';
        }

        return SendBufferAsync(length);
    }

    protected override RecordKind Classify(ReadOnlySpan<byte> record)
        => record.StartsWith(_raw ? RawPrefix : MessagePrefix) ? RecordKind.Delivery
            : record.StartsWith(WelcomePrefix) ? RecordKind.Welcome
            : RecordKind.Other;
}
