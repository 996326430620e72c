using System;
using System.Collections.Generic;
using System.Linq;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Threading.Tasks;
using FluentAssertions;
using Xunit;

namespace GroupRelay.Specification.Tests;

/// <summary>PROTOCOL.md section 1: WebSocket, subprotocol, text and binary frames, coalescing, MaxFrameBytes.</summary>
public abstract partial class RelayProtocolSpecification
{
    [Fact]
    public async Task Subprotocol_ClientAsksForGroupRelayV1_ServerSelectsIt()
    {
        await StartAsync();

        RelayTestClient client = await ConnectAsync("alice", configure: o => o.AddSubProtocol("grouprelay.v1"));

        client.Socket.SubProtocol.Should().Be("grouprelay.v1");
        Type(await client.RequestAsync(Req("ping"))).Should().Be("pong");
    }

    [Fact]
    public async Task Subprotocol_ClientAsksForNone_IsAccepted()
    {
        await StartAsync();

        RelayTestClient client = await ConnectAsync("alice");

        client.Socket.SubProtocol.Should().BeNullOrEmpty();
        Type(await client.RequestAsync(Req("ping"))).Should().Be("pong");
    }

    [Fact]
    public async Task BinaryFrame_IsAnsweredWithBadRequest_AndConnectionStaysOpen()
    {
        await StartAsync();
        RelayTestClient alice = await ConnectAsync("alice");

        await alice.SendRawAsync(Encoding.UTF8.GetBytes("{\"type\":\"ping\",\"id\":\"b1\"}"), WebSocketMessageType.Binary);

        JsonElement error = await alice.ExpectAsync("error");
        error.GetProperty("code").GetString().Should().Be("bad_request");
        error.TryGetProperty("id", out _).Should().BeFalse("a binary frame is not read, so it has no id");
        (await alice.RequestAsync(Req("ping", ("id", "after")))).GetProperty("type").GetString().Should().Be("pong");
        alice.Socket.State.Should().Be(WebSocketState.Open);
    }

    [Fact]
    public async Task OversizedFrame_ClosesThatConnectionWith1009_OthersUnaffected()
    {
        const int MaxFrameBytes = 4096;
        Group("team", "alice", "bob", "carol");
        await StartAsync(o => o.MaxFrameBytes = MaxFrameBytes);
        RelayTestClient alice = await ConnectAsync("alice");
        RelayTestClient aliceOtherTab = await ConnectAsync("alice");
        RelayTestClient bob = await ConnectAsync("bob");
        RelayTestClient carol = await ConnectAsync("carol");

        await alice.SendTextAsync(SendFrameOfSize("team", MaxFrameBytes + 1));

        (await alice.WaitForCloseAsync()).Should().Be(RelayCloseCodes.MessageTooBig);
        await ExpectNothingAsync(bob, "message", "the oversized frame is not routed");
        await AssertStillRoutesAsync(bob, carol, "team");
        await AssertStillRoutesAsync(carol, aliceOtherTab, "team");
    }

    [Fact]
    public async Task FrameOfExactlyMaxFrameBytes_IsAccepted()
    {
        const int MaxFrameBytes = 4096;
        Group("team", "alice", "bob");
        await StartAsync(o => o.MaxFrameBytes = MaxFrameBytes);
        RelayTestClient alice = await ConnectAsync("alice");
        RelayTestClient bob = await ConnectAsync("bob");
        string frame = SendFrameOfSize("team", MaxFrameBytes);

        await alice.SendTextAsync(frame);

        Type(await alice.ExpectAsync("ack")).Should().Be("ack");
        (await bob.ExpectAsync("message")).GetProperty("body").GetRawText().Should().Be(JsonDocument.Parse(frame).RootElement.GetProperty("body").GetRawText());
    }

    [Fact]
    public async Task CoalescedFrames_KeepOrder_AndStayWithinMaxFrameBytesUnlessOneObjectIsLarger()
    {
        const int MaxFrameBytes = 2048;
        Group("team", "alice", "reader");
        await StartAsync(o =>
        {
            o.MaxFrameBytes = MaxFrameBytes;
            o.RateLimitEnabled = false;
        });
        RelayTestClient alice = await ConnectAsync("alice");

        // The reader does not read while the server queues to it, so frames pile up and may be coalesced.
        RelayTestClient reader = await ConnectNotReadingAsync("reader");
        var sent = new List<long>();
        for (int i = 0; i < 60; i++)
        {
            // Mostly small bodies, and some larger than MaxFrameBytes on their own (server-side publish has no frame limit).
            string body = i % 15 == 7 ? new string('x', MaxFrameBytes + 100) : "m" + i;
            sent.Add(await Server.Relay.PublishAsync("team", JsonSerializer.SerializeToElement(body), "alice").AsTask().WaitAsync(Timeout));
        }

        reader.StartReading();
        JsonElement welcome = await reader.ReceiveAsync();
        Type(welcome).Should().Be("welcome");
        List<JsonElement> messages = await reader.CollectAsync("message", sent.Count);

        messages.Select(m => m.GetProperty("seq").GetInt64()).Should().Equal(sent);
        // Coalescing may or may not happen (with a backplane, messages can arrive one by one); when it does, it stays in bounds.
        reader.RawFrames.Where(f => f.Objects > 1 && f.Bytes > MaxFrameBytes).Should().BeEmpty();
        reader.RawFrames.Sum(f => f.Objects).Should().Be(sent.Count + 1);
    }

    /// <summary>A <c>send</c> frame of exactly <paramref name="bytes"/> UTF-8 bytes (ASCII only).</summary>
    private static string SendFrameOfSize(string group, int bytes)
    {
        string prefix = "{\"type\":\"send\",\"id\":\"big\",\"group\":\"" + group + "\",\"body\":\"";
        const string Suffix = "\"}";
        string frame = prefix + new string('a', bytes - prefix.Length - Suffix.Length) + Suffix;
        Encoding.UTF8.GetByteCount(frame).Should().Be(bytes);
        return frame;
    }
}
