using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json;
using System.Threading.Tasks;
using FluentAssertions;
using GroupRelay.Specification.Tests;
using Xunit;
using static GroupRelay.Specification.Tests.RawWebSocket;

namespace GroupRelay.Transports.Fleck.Tests;

// RFC 6455 framing on the wire, with a raw client: every section 5 violation is failed with 1002 and the close frame
// reaches the client; what the RFC allows (a ping between fragments, frames right behind the handshake) is served.
public sealed partial class FleckTransportTests
{
    private const byte Continuation = 0x0;
    private const byte Text = 0x1;
    private const byte Binary = 0x2;
    private const byte Close = 0x8;
    private const byte Ping = 0x9;
    private const byte Pong = 0xA;

    // A valid request: were a violation let through, its reply would show it.
    private static readonly byte[] PingRequest = Encoding.UTF8.GetBytes("{\"type\":\"ping\",\"id\":\"bad\"}");

    public static TheoryData<string> Violations => new(ViolationFrames.Keys);

    private static readonly Dictionary<string, byte[]> ViolationFrames = new()
    {
        ["RSV1 set (first byte 0xC1)"] = Frame(Text, PingRequest, rsv: 0x40),
        ["RSV3 set"] = Frame(Text, PingRequest, rsv: 0x10),
        ["reserved data opcode 0x3"] = Frame(0x3, PingRequest),
        ["reserved control opcode 0xB"] = Frame(0xB, []),
        ["unmasked text frame"] = Frame(Text, PingRequest, masked: false),
        ["orphan continuation"] = Frame(Continuation, PingRequest),
        ["text frame inside a fragmented message"] = [.. Frame(Text, PingRequest[..10], fin: false), .. Frame(Text, PingRequest[10..])],
        ["binary frame inside a fragmented message"] = [.. Frame(Text, PingRequest[..10], fin: false), .. Frame(Binary, PingRequest[10..])],
        ["fragmented ping"] = [.. Frame(Ping, "ab"u8.ToArray(), fin: false), .. Frame(Continuation, "cd"u8.ToArray())],
        ["fragmented ping inside a fragmented message"] = [.. Frame(Text, PingRequest[..10], fin: false), .. Frame(Ping, "ab"u8.ToArray(), fin: false), .. Frame(Continuation, PingRequest[10..])],
        ["ping of 126 bytes"] = Frame(Ping, new byte[126]),
        ["ping of 300 bytes"] = Frame(Ping, new byte[300]),
        ["pong of 126 bytes"] = Frame(Pong, new byte[126]),
        ["close frame of 126 bytes"] = Frame(Close, [0x03, 0xE8, .. new byte[124]]),
        ["fragmented close frame"] = Frame(Close, [0x03, 0xE8], fin: false),
        ["close frame with a 1-byte payload"] = Frame(Close, [0x03]),
        ["close frame with code 1005, which may not be sent"] = Frame(Close, [0x03, 0xED]),
        ["64-bit length with its top bit set"] = [0x81, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0x10, 1, 2, 3, 4],
    };

    [Theory]
    [MemberData(nameof(Violations))]
    public async Task ProtocolViolation_IsFailedWith1002_TheCloseFrameIsReadBeforeAnOrderlyEnd_AndLogged(string violation)
    {
        Group("team", "alice");
        await StartAsync();
        RawWebSocket raw = await ConnectRawAsync("alice");
        string connectionId = await ReadWelcomeAsync(raw);

        await raw.SendBytesAsync(ViolationFrames[violation]);

        List<(byte Opcode, byte[] Payload)> frames = await ReadThroughCloseAsync(raw);
        frames.Should().ContainSingle("nothing is answered (no pong, no reply to a glued message), only the connection failed");
        frames[0].Opcode.Should().Be(Close);
        BinaryPrimitives.ReadUInt16BigEndian(frames[0].Payload).Should().Be(1002);
        (await raw.ReceiveFrameAsync()).Should().BeNull("after its close frame the server ends the TCP connection in order (FIN), not with a reset");
        await AssertNothingLeftAsync();
        AssertDisposedOnce(connectionId);
        // The log line may be written a moment after the socket ended (it comes from Fleck's error path): wait for it.
        bool Logged(LogEntryMatch e) => Equals(e.ConnectionId, connectionId) && Equals(e.CloseCode, 1002);
        await WaitUntilAsync(() => _harness.Logs.WithEventId(211).Any(e => Logged(new LogEntryMatch(e.Values.GetValueOrDefault("ConnectionId"), e.Values.GetValueOrDefault("CloseCode")))), "the violation is logged");
        _harness.Logs.WithEventId(211).Count(e => Logged(new LogEntryMatch(e.Values.GetValueOrDefault("ConnectionId"), e.Values.GetValueOrDefault("CloseCode")))).Should().Be(1, "the violation is logged once");
    }

    private readonly record struct LogEntryMatch(object? ConnectionId, object? CloseCode);

    [Fact]
    public async Task ProtocolViolation_FollowedByMoreDataInTheSameWrite_StillDeliversThe1002CloseFrame()
    {
        await StartAsync();
        RawWebSocket raw = await ConnectRawAsync("alice");
        await ReadWelcomeAsync(raw);
        byte[] valid = Frame(Text, PingRequest);

        // The server stops reading at the violation; what follows is still unread when it closes the socket.
        await raw.SendBytesAsync([.. Frame(Ping, new byte[126]), .. Enumerable.Range(0, 64 * 1024 / valid.Length).SelectMany(_ => valid)]);

        (await raw.ReceiveCloseAsync()).Should().Be(1002);
    }

    [Fact]
    public async Task Ping_BetweenTheFragmentsOfAMessage_IsAnswered_AndTheMessageArrivesWhole()
    {
        await StartAsync();
        RawWebSocket raw = await ConnectRawAsync("alice");
        await ReadWelcomeAsync(raw);
        byte[] request = Encoding.UTF8.GetBytes("{\"type\":\"ping\",\"id\":\"fragmented\"}");

        // Legal (RFC 6455 section 5.4): control frames between the fragments of a message, here a ping, an unsolicited pong, a ping.
        await raw.SendBytesAsync([
            .. Frame(Text, request[..8], fin: false),
            .. Frame(Ping, "hb1"u8.ToArray()),
            .. Frame(Continuation, request[8..20], fin: false),
            .. Frame(Pong, "unsolicited"u8.ToArray()),
            .. Frame(Ping, "hb2"u8.ToArray()),
            .. Frame(Continuation, request[20..]),
        ]);

        var pongs = new List<string>();
        JsonElement? reply = null;
        while (pongs.Count < 2 || reply is null)
        {
            (byte Opcode, byte[] Payload)? frame = await raw.ReceiveFrameAsync();
            frame.Should().NotBeNull("the connection stays open");
            if (frame!.Value.Opcode == Pong)
            {
                pongs.Add(Encoding.UTF8.GetString(frame.Value.Payload));
            }
            else
            {
                frame.Value.Opcode.Should().Be(Text);
                reply.Should().BeNull("one message was sent");
                reply = JsonDocument.Parse(frame.Value.Payload).RootElement;
            }
        }

        pongs.Should().Equal("hb1", "hb2");
        reply!.Value.GetProperty("type").GetString().Should().Be("pong");
        reply.Value.GetProperty("id").GetString().Should().Be("fragmented");
    }

    [Fact]
    public async Task Ping_Of125Bytes_IsAnsweredWithAPongOfTheSamePayload()
    {
        await StartAsync();
        RawWebSocket raw = await ConnectRawAsync("alice");
        await ReadWelcomeAsync(raw);
        byte[] payload = Enumerable.Range(0, 125).Select(i => (byte)i).ToArray();

        await raw.SendFrameAsync(Ping, payload);

        (byte Opcode, byte[] Payload)? pong = await raw.ReceiveFrameAsync();
        pong.Should().NotBeNull();
        pong!.Value.Opcode.Should().Be(Pong);
        pong.Value.Payload.Should().Equal(payload);
    }

    [Fact]
    public async Task Frames_SentInTheSameWriteAsTheHandshake_AreProcessedAfterTheWelcome()
    {
        await StartAsync();
        byte[] early = [.. Frame(Text, "{\"type\":\"ping\",\"id\":\"early1\"}"u8.ToArray()), .. Frame(Text, "{\"type\":\"ping\",\"id\":\"early2\"}"u8.ToArray())];

        RawWebSocket raw = await RawWebSocket.ConnectAsync(_harness.RelayUri, "alice", sendWithHandshake: early).WaitAsync(Timeout);
        _raw.Add(raw);

        // The replies may be coalesced with the welcome into one frame (objects separated by line feeds).
        var objects = new List<JsonElement>();
        while (objects.Count < 3)
        {
            (byte Opcode, byte[] Payload)? frame = await raw.ReceiveFrameAsync();
            frame.Should().NotBeNull();
            frame!.Value.Opcode.Should().Be(Text);
            objects.AddRange(Encoding.UTF8.GetString(frame.Value.Payload).Split('\n').Select(o => JsonDocument.Parse(o).RootElement));
        }

        objects.Select(o => o.GetProperty("type").GetString()).Should().Equal("welcome", "pong", "pong");
        objects.Skip(1).Select(o => o.GetProperty("id").GetString()).Should().Equal("early1", "early2");
    }

    [Fact]
    public async Task Frames_SentInTheSameWriteAsTheHandshake_AreCheckedLikeAnyOther_AViolationIsFailedWith1002()
    {
        await StartAsync();

        RawWebSocket raw = await RawWebSocket.ConnectAsync(_harness.RelayUri, "alice", sendWithHandshake: Frame(Ping, new byte[126])).WaitAsync(Timeout);
        _raw.Add(raw);

        (await raw.ReceiveCloseAsync()).Should().Be(1002);
        await AssertNothingLeftAsync();
    }

    /// <summary>Every frame up to and including the close frame; fails if the connection ends (or is reset) before it.</summary>
    private static async Task<List<(byte Opcode, byte[] Payload)>> ReadThroughCloseAsync(RawWebSocket raw)
    {
        var frames = new List<(byte Opcode, byte[] Payload)>();
        while (frames.Count == 0 || frames[^1].Opcode != Close)
        {
            (byte Opcode, byte[] Payload)? frame;
            try
            {
                frame = await raw.ReceiveFrameAsync();
            }
            catch (IOException ex)
            {
                throw new InvalidOperationException("The connection was reset before its close frame was read.", ex);
            }

            frame.Should().NotBeNull("the close frame comes before the end of the connection");
            frames.Add(frame!.Value);
        }

        return frames;
    }
}
