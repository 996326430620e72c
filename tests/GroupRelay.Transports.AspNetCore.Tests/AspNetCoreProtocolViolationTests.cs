using System;
using System.Buffers.Binary;
using System.Linq;
using System.Text;
using System.Threading.Tasks;
using FluentAssertions;
using GroupRelay.Specification.Tests;
using Xunit;

namespace GroupRelay.Transports.AspNetCore.Tests;

/// <summary>
/// Issue 11 #2 on Kestrel, beyond the specification suite's wire tests: after .NET's WebSocket failed a connection for a
/// protocol violation, the endpoint reads and discards what the client still sends until the client answers the close
/// frame or ends the connection (a browser does the first), then lets Kestrel end it in order; only a client that does
/// neither waits out the linger time (ProtocolViolation_* in the suite, with a short CloseTimeout).
/// </summary>
public sealed class AspNetCoreProtocolViolationTests
{
    private static readonly TimeSpan Timeout = RawWebSocket.DefaultTimeout;

    // A text frame with RSV1 set (first byte 0xC1), as in issue 11.
    private static byte[] Rsv1Frame() => RawWebSocket.Frame(0x1, Encoding.UTF8.GetBytes("{\"type\":\"ping\",\"id\":\"bad\"}"), rsv: 0x40);

    [Fact]
    public async Task ClientThatAnswersTheCloseFrame_IsLetGoWhenItsCloseFrameArrives()
    {
        var logs = new LogRecorder();
        await using var server = new KestrelRelayHarness(logs: logs);
        await server.StartAsync(_ => { }).WaitAsync(Timeout);
        await using RawWebSocket raw = await RawWebSocket.ConnectAsync(server.RelayUri, "alice").WaitAsync(Timeout);
        await raw.ReceiveTextContainingAsync("welcome");

        await raw.SendBytesAsync(Rsv1Frame());
        (await raw.ReceiveCloseAsync(Timeout)).Should().Be(1002);
        await raw.SendBytesAsync(RawWebSocket.Frame(0x8, [0x03, 0xEA]));

        (await raw.ReceiveFrameAsync(Timeout)).Should().BeNull("the server ends the connection in order once the client answered");
        await WaitUntilAsync(() => logs.WithEventId(103).Any(), "the linger is logged");
        logs.WithEventId(103).Should().ContainSingle().Which.Should().Contain("the client sent its close frame");
    }

    [Fact]
    public async Task ClientThatEndsTheConnection_IsLetGoAtItsEnd_AfterMoreDataWasDiscarded()
    {
        var logs = new LogRecorder();
        await using var server = new KestrelRelayHarness(logs: logs);
        await server.StartAsync(_ => { }).WaitAsync(Timeout);
        await using RawWebSocket raw = await RawWebSocket.ConnectAsync(server.RelayUri, "alice").WaitAsync(Timeout);
        await raw.ReceiveTextContainingAsync("welcome");
        byte[] valid = RawWebSocket.Frame(0x1, Encoding.UTF8.GetBytes("{\"type\":\"ping\",\"id\":\"after\"}"));

        await raw.SendBytesAsync([.. Rsv1Frame(), .. Enumerable.Range(0, 64 * 1024 / valid.Length).SelectMany(_ => valid)]);
        (byte Opcode, byte[] Payload)? close = await raw.ReceiveFrameAsync(Timeout);
        close.Should().NotBeNull();
        close!.Value.Opcode.Should().Be((byte)0x8);
        BinaryPrimitives.ReadUInt16BigEndian(close.Value.Payload).Should().Be(1002);
        raw.ShutdownSend();

        (await raw.ReceiveFrameAsync(Timeout)).Should().BeNull("the server ends the connection in order at the client's end");
        await WaitUntilAsync(() => logs.WithEventId(103).Any(), "the linger is logged");
        logs.WithEventId(103).Should().ContainSingle().Which.Should().Contain("the client ended the connection");
        (await server.Relay.GetOnlineUsersAsync().AsTask().WaitAsync(Timeout)).Should().BeEmpty();
    }

    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        DateTime deadline = DateTime.UtcNow + Timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Timed out waiting until {what}.");
            }

            await Task.Delay(20);
        }
    }
}
