using System;
using System.Text;
using FluentAssertions;
using GroupRelay.Internal;
using Xunit;

namespace GroupRelay.Redis.Tests;

/// <summary>The message payload on a group channel reads back field for field, whatever the ids contain.</summary>
public sealed class RedisPayloadTests
{
    [Theory]
    [InlineData("node-1", "c-1", "alice", "{\"text\":\"hi\"}", true)]
    [InlineData("node-ü", null, "bob:*\n élan", "{ \"a\" : 1 }", false)]
    [InlineData("n", "", "", "", true)]
    public void MessageTail_ReadsBackEveryField(string origin, string? skip, string from, string body, bool compact)
    {
        byte[] tail = RedisPayload.MessageTail(origin, 42, skip, from, 1_764_098_000_123, compact, Encoding.UTF8.GetBytes(body));

        ReadOnlySpan<byte> span = tail;
        RedisPayload.ReadString(ref span).Should().Be(origin);
        RedisPayload.ReadLong(ref span).Should().Be(42);
        RedisPayload.ReadString(ref span).Should().Be(skip ?? string.Empty);
        RedisPayload.ReadString(ref span).Should().Be(from);
        RedisPayload.ReadLong(ref span).Should().Be(1_764_098_000_123);
        span[0].Should().Be(compact ? (byte)1 : (byte)0);
        Encoding.UTF8.GetString(span[1..]).Should().Be(body, "the body is the rest, byte for byte");

        ReadOnlySpan<byte> raw = tail;
        RedisPayload.ReadBytes(ref raw).ToArray().Should().Equal(Encoding.UTF8.GetBytes(origin), "a node compares origins as bytes");
        RedisPayload.ReadLong(ref raw).Should().Be(42);
        Encoding.UTF8.GetString(RedisPayload.ReadBytes(ref raw)).Should().Be(skip ?? string.Empty);
    }

    [Fact]
    public void Batch_AsThePublishScriptWritesIt_ReadsBackEpochSeqAndTailsInOrder()
    {
        byte[] first = RedisPayload.FramedMessageTail("n", 1, null, "alice", 1, true, "1"u8);
        byte[] second = RedisPayload.FramedMessageTail("n", 2, "c-9", "bob", 2, true, "[2]"u8);
        byte[] payload = [.. "BA1B2C3D4E5F6|41|2|"u8, .. first, .. second];

        ReadOnlySpan<byte> span = RedisPayload.ReadBatchHeader(payload, out string epoch, out long firstSeq, out int count);

        epoch.Should().Be("A1B2C3D4E5F6");
        firstSeq.Should().Be(41);
        count.Should().Be(2);
        RedisPayload.ReadBytes(ref span).ToArray().Should().Equal(first[4..]);
        RedisPayload.ReadBytes(ref span).ToArray().Should().Equal(RedisPayload.MessageTail("n", 2, "c-9", "bob", 2, true, "[2]"u8));
        span.IsEmpty.Should().BeTrue();
    }

    [Fact]
    public void Position_AppendedByTheChangeScript_ReadsBack()
    {
        RedisPayload.ReadPosition("A1B2C3D4E5F6|12"u8).Should().Be(new GroupRelay.ScaleOut.StreamPosition("A1B2C3D4E5F6", 12));
        RedisPayload.ReadPosition(ReadOnlySpan<byte>.Empty).Should().BeNull();
    }
}
