using System;
using System.Collections.Generic;
using System.Linq;
using Fleck;
using FluentAssertions;
using GroupRelay.Specification.Tests;
using GroupRelay.Transports.Fleck.Internal;
using Xunit;
using static GroupRelay.Specification.Tests.RawWebSocket;

namespace GroupRelay.Transports.Fleck.Tests;

/// <summary>The frame reader alone, without a server: bytes in any split, frames out.</summary>
public sealed class Rfc6455FrameReaderTests
{
    private static readonly byte[] Message = Enumerable.Range(0, 300).Select(i => (byte)('a' + (i % 26))).ToArray();

    private static readonly byte[] Interleaved =
    [
        .. Frame(0x1, Message[..7], fin: false),
        .. Frame(0x9, "p1"u8.ToArray()),
        .. Frame(0x0, Message[7..200], fin: false),
        .. Frame(0xA, []),
        .. Frame(0x0, Message[200..]),
        .. Frame(0x2, Message),
    ];

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(4096)]
    public void Read_FramesArrivingInPiecesOfAnySize_AreReadWhole_ControlFramesApartFromTheMessage(int pieceSize)
    {
        var reader = new Rfc6455FrameReader(maxMessageBytes: 1024);

        List<(FrameType Type, byte[] Payload)> frames = Feed(reader, Interleaved, pieceSize);

        frames.Select(f => f.Type).Should().Equal(FrameType.Ping, FrameType.Pong, FrameType.Text, FrameType.Binary);
        frames[0].Payload.Should().Equal("p1"u8.ToArray());
        frames[1].Payload.Should().BeEmpty();
        frames[2].Payload.Should().Equal(Message);
        frames[3].Payload.Should().Equal(Message);
    }

    [Fact]
    public void Read_MessageOverTheLimit_IsTooLargeAsSoonAsTheHeaderOfTheFragmentThatPassesItIsIn()
    {
        var reader = new Rfc6455FrameReader(maxMessageBytes: 300);
        byte[] bytes = [.. Frame(0x1, Message[..200], fin: false), .. Frame(0x0, new byte[101]).AsSpan(0, 8)];

        FrameReadResult result = reader.Read(bytes, out int consumed, out _, out _);

        result.Should().Be(FrameReadResult.TooLarge);
        consumed.Should().BeLessThan(bytes.Length);
    }

    [Fact]
    public void Read_MessageOfExactlyTheLimit_InFragments_IsRead()
    {
        var reader = new Rfc6455FrameReader(maxMessageBytes: 300);

        List<(FrameType Type, byte[] Payload)> frames = Feed(reader, [.. Frame(0x1, Message[..100], fin: false), .. Frame(0x0, Message[100..])], 4096);

        frames.Should().ContainSingle().Which.Payload.Should().Equal(Message);
    }

    [Fact]
    public void Read_ReservedOpcode_FailsFromTheFirstTwoBytes_With1002()
    {
        var reader = new Rfc6455FrameReader(maxMessageBytes: 300);

        Action read = () => reader.Read(new byte[] { 0x83, 0x85 }, out _, out _, out _);

        read.Should().Throw<WebSocketException>().Which.StatusCode.Should().Be(1002);
    }

    /// <summary>Feeds <paramref name="bytes"/> in pieces, as Fleck's hook sees them: a buffer of what is not read yet.</summary>
    private static List<(FrameType Type, byte[] Payload)> Feed(Rfc6455FrameReader reader, byte[] bytes, int pieceSize)
    {
        var frames = new List<(FrameType, byte[])>();
        var buffer = new List<byte>();
        for (int offset = 0; offset < bytes.Length; offset += pieceSize)
        {
            buffer.AddRange(bytes.Skip(offset).Take(pieceSize));
            while (true)
            {
                FrameReadResult result = reader.Read(buffer.ToArray(), out int consumed, out FrameType type, out byte[] payload);
                buffer.RemoveRange(0, consumed);
                result.Should().NotBe(FrameReadResult.TooLarge);
                if (result == FrameReadResult.NeedMoreData)
                {
                    break;
                }

                frames.Add((type, payload));
            }
        }

        buffer.Should().BeEmpty();
        return frames;
    }
}
