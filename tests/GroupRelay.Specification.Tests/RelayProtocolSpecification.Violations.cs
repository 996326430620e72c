using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading.Tasks;
using FluentAssertions;
using Xunit;
using static GroupRelay.Specification.Tests.RawWebSocket;

namespace GroupRelay.Specification.Tests;

/// <summary>
/// RFC 6455 violations on the wire (issue 11 #2), with a raw client: every section 5 violation fails the connection
/// with a 1002 close frame, invalid UTF-8 text with 1007, and the client reads that close frame and then the end of the
/// TCP connection (not a reset that would discard it: a browser would see 1006), also when more data follows the
/// violation. The connection is then gone from the online list. The same on every transport.
/// </summary>
public abstract partial class RelayProtocolSpecification
{
    private const byte ContinuationOpcode = 0x0;
    private const byte TextOpcode = 0x1;
    private const byte BinaryOpcode = 0x2;
    private const byte CloseOpcode = 0x8;
    private const byte PingOpcode = 0x9;
    private const byte PongOpcode = 0xA;

    // A valid request: were a violation let through, its reply would show it.
    private static readonly byte[] ViolatingPing = Encoding.UTF8.GetBytes("{\"type\":\"ping\",\"id\":\"bad\"}");

    private static readonly Dictionary<string, (byte[] Bytes, int CloseCode)> ViolationFrames = new()
    {
        ["RSV1 set (first byte 0xC1)"] = (Frame(TextOpcode, ViolatingPing, rsv: 0x40), 1002),
        ["RSV3 set"] = (Frame(TextOpcode, ViolatingPing, rsv: 0x10), 1002),
        ["reserved data opcode 0x3"] = (Frame(0x3, ViolatingPing), 1002),
        ["reserved control opcode 0xB"] = (Frame(0xB, []), 1002),
        ["unmasked text frame"] = (Frame(TextOpcode, ViolatingPing, masked: false), 1002),
        ["orphan continuation"] = (Frame(ContinuationOpcode, ViolatingPing), 1002),
        ["text frame inside a fragmented message"] = ([.. Frame(TextOpcode, ViolatingPing[..10], fin: false), .. Frame(TextOpcode, ViolatingPing[10..])], 1002),
        ["binary frame inside a fragmented message"] = ([.. Frame(TextOpcode, ViolatingPing[..10], fin: false), .. Frame(BinaryOpcode, ViolatingPing[10..])], 1002),
        ["fragmented ping"] = ([.. Frame(PingOpcode, "ab"u8.ToArray(), fin: false), .. Frame(ContinuationOpcode, "cd"u8.ToArray())], 1002),
        ["ping of 126 bytes"] = (Frame(PingOpcode, new byte[126]), 1002),
        ["pong of 126 bytes"] = (Frame(PongOpcode, new byte[126]), 1002),
        ["close frame of 126 bytes"] = (Frame(CloseOpcode, [0x03, 0xE8, .. new byte[124]]), 1002),
        ["fragmented close frame"] = (Frame(CloseOpcode, [0x03, 0xE8], fin: false), 1002),
        ["64-bit length with its top bit set"] = ([0x81, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0x10, 1, 2, 3, 4], 1002),
        ["invalid UTF-8 in a text frame"] = (Frame(TextOpcode, [.. "{\"type\":\"ping\",\"x\":\""u8, 0xFF, .. "\"}"u8]), 1007),
    };

    public static TheoryData<string, bool> ViolationsWithAndWithoutMoreData()
    {
        var data = new TheoryData<string, bool>();
        foreach (string violation in ViolationFrames.Keys)
        {
            data.Add(violation, false);
            data.Add(violation, true);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(ViolationsWithAndWithoutMoreData))]
    public async Task ProtocolViolation_TheClientReadsTheCloseFrameThenTheEnd_AndTheConnectionIsGone(string violation, bool moreDataBehind)
    {
        Group("team", "alice", "bob");
        await StartAsync(o => o.CloseTimeout = TimeSpan.FromSeconds(1));
        RelayTestClient bob = await ConnectAsync("bob");
        await using RawWebSocket raw = await RawWebSocket.ConnectAsync(Server.RelayUri, "alice").WaitAsync(Timeout);
        await raw.ReceiveTextContainingAsync("welcome");
        (byte[] bytes, int closeCode) = ViolationFrames[violation];

        // More behind the violation, in the same write: 64 KiB of valid requests the server has not read when it fails
        // the connection.
        byte[] valid = Frame(TextOpcode, Encoding.UTF8.GetBytes("{\"type\":\"ping\",\"id\":\"after\"}"));
        await raw.SendBytesAsync(moreDataBehind ? [.. bytes, .. Enumerable.Range(0, 64 * 1024 / valid.Length).SelectMany(_ => valid)] : bytes);

        List<(byte Opcode, byte[] Payload)> frames = await ReadThroughCloseAsync(raw);
        frames.Should().ContainSingle("nothing is answered (no pong, no reply to a glued message), only the connection failed");
        BinaryPrimitives.ReadUInt16BigEndian(frames[0].Payload).Should().Be((ushort)closeCode);
        (await raw.ReceiveFrameAsync(Timeout)).Should().BeNull("after its close frame the server ends the TCP connection in order (FIN), not with a reset");

        (await EventuallyAsync(async () => !(await Server.Relay.GetOnlineUsersAsync()).Contains("alice"))).Should().BeTrue("the failed connection is gone from the online list");
        (await Server.Relay.GetOnlineMembersAsync("team").AsTask().WaitAsync(Timeout)).Should().Equal("bob");
        Type(await bob.RequestAsync(Req("ping"))).Should().Be("pong");
    }

    /// <summary>Every frame up to and including the close frame; fails if the connection ends (or is reset) before it.</summary>
    private static async Task<List<(byte Opcode, byte[] Payload)>> ReadThroughCloseAsync(RawWebSocket raw)
    {
        var frames = new List<(byte Opcode, byte[] Payload)>();
        while (frames.Count == 0 || frames[^1].Opcode != CloseOpcode)
        {
            (byte Opcode, byte[] Payload)? frame;
            try
            {
                frame = await raw.ReceiveFrameAsync(Timeout);
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
