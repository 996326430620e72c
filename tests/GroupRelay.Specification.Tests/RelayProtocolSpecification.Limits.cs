using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Net.WebSockets;
using System.Text.Json;
using System.Threading.Tasks;
using FluentAssertions;
using Xunit;

namespace GroupRelay.Specification.Tests;

/// <summary>PROTOCOL.md sections 4 and 5: rate limit (<c>rate_limited</c>, 4008) and the slow consumer (4001).</summary>
public abstract partial class RelayProtocolSpecification
{
    [Fact]
    public async Task RateLimit_BurstOverTheLimit_GetsRateLimitedWithId_AndTheRequestsAreDropped()
    {
        const int Burst = 5;
        Group("team", "alice", "bob");
        await StartAsync(o =>
        {
            o.RateLimitPerSecond = 0.001; // practically no refill during the test: exactly Burst requests pass
            o.RateLimitBurst = Burst;
            o.FloodRejectionsPerSecond = 1000;
        });
        RelayTestClient alice = await ConnectAsync("alice");
        RelayTestClient bob = await ConnectAsync("bob");

        for (int i = 0; i < 2 * Burst; i++)
        {
            await alice.SendAsync(Req("send", ("id", "r" + i), ("group", "team"), ("body", i)));
        }

        List<JsonElement> acks = await alice.CollectAsync("ack", Burst);
        List<JsonElement> errors = await alice.CollectAsync("error", Burst);
        acks.Select(a => a.GetProperty("id").GetString()).Should().Equal(Enumerable.Range(0, Burst).Select(i => "r" + i));
        errors.Select(e => e.GetProperty("id").GetString()).Should().Equal(Enumerable.Range(Burst, Burst).Select(i => "r" + i));
        errors.Should().AllSatisfy(e => e.GetProperty("code").GetString().Should().Be("rate_limited"));
        List<JsonElement> delivered = await bob.CollectAsync("message", Burst);
        delivered.Select(m => m.GetProperty("body").GetInt32()).Should().Equal(Enumerable.Range(0, Burst));
        await ExpectNothingAsync(bob, "message", "dropped requests are not routed");
        alice.Socket.State.Should().Be(WebSocketState.Open, "a burst is not a flood");
    }

    [Fact]
    public async Task RateLimit_ConnectionThatKeepsFlooding_IsClosedWith4008_OthersUnaffected()
    {
        Group("team", "alice", "bob", "carol");
        await StartAsync(o =>
        {
            o.RateLimitPerSecond = 0.001;
            o.RateLimitBurst = 3;
            o.FloodRejectionsPerSecond = 5;
        });
        RelayTestClient alice = await ConnectAsync("alice");
        RelayTestClient bob = await ConnectAsync("bob");
        RelayTestClient carol = await ConnectAsync("carol");
        for (int i = 0; i < 3; i++)
        {
            Type(await alice.RequestAsync(Req("ping"))).Should().Be("pong");
        }

        JsonElement limited = await alice.RequestAsync(Req("ping", ("id", "over")));
        Type(limited).Should().Be("error");
        limited.GetProperty("code").GetString().Should().Be("rate_limited");

        // Keep sending until the server gives up on the connection.
        for (int i = 0; i < 10_000 && !alice.Closed.IsCompleted; i++)
        {
            try
            {
                await alice.SendAsync(Req("ping", ("id", "f" + i)));
            }
            catch (Exception ex) when (ex is WebSocketException or ObjectDisposedException or InvalidOperationException)
            {
                break;
            }
        }

        (await alice.WaitForCloseAsync()).Should().Be(RelayCloseCodes.Flooding);
        await AssertStillRoutesAsync(carol, bob, "team");
        await ExpectNothingAsync(bob, "error");
    }

    [Fact]
    public async Task SlowConsumer_QueueOverItsBound_IsClosedWith4001_WhileAReadingClientGetsEveryMessageInOrder()
    {
        const int BodyBytes = 16 * 1024;
        const int Batch = 4;
        const long FloodBytes = 16L * 1024 * 1024; // far more than the socket buffers between server and client hold
        Group("news", "reader", "sleeper");
        await StartAsync(o =>
        {
            o.MaxQueueBytes = 256 * 1024;
            o.MaxQueueFrames = 64;
            o.CloseTimeout = TimeSpan.FromSeconds(120); // the sleeper reads only after the flood; the close frame must wait for it
        });
        RelayTestClient reader = await ConnectAsync("reader");
        RelayTestClient sleeper = await ConnectNotReadingAsync("sleeper");
        JsonElement body = JsonSerializer.SerializeToElement(new string('z', BodyBytes));

        var published = new List<long>();
        var readerSeqs = new List<long>();
        while (published.Count * (long)BodyBytes < FloodBytes)
        {
            for (int i = 0; i < Batch; i++)
            {
                published.Add(await Server.Relay.PublishAsync("news", body, "system").AsTask().WaitAsync(Timeout));
            }

            // Pace the flood by the reader, so only the sleeper falls behind.
            readerSeqs.AddRange((await reader.CollectAsync("message", Batch, LongTimeout)).Select(m => m.GetProperty("seq").GetInt64()));
        }

        sleeper.StartReading();
        (await sleeper.WaitForCloseAsync(LongTimeout)).Should().Be(RelayCloseCodes.SlowConsumer);
        reader.Socket.State.Should().Be(WebSocketState.Open);
        ShouldStrictlyIncrease(published, "the publisher");
        readerSeqs.Should().Equal(published, "the reading client got every message, in order");

        // What the sleeper got before the close is a prefix of the flood, in order.
        var sleeperSeqs = new List<long>();
        for (JsonElement? frame = await sleeper.NextWithinAsync(TimeSpan.FromSeconds(1)); frame is JsonElement f; frame = await sleeper.NextWithinAsync(TimeSpan.FromSeconds(1)))
        {
            if (Type(f) == "message")
            {
                sleeperSeqs.Add(f.GetProperty("seq").GetInt64());
            }
        }

        sleeperSeqs.Should().Equal(published.Take(sleeperSeqs.Count));
        sleeperSeqs.Count.Should().BeLessThan(published.Count);
    }

    [Fact]
    public async Task Burst_TheDefaultRateLimitBurstFromTenSendersIntoAGroupOf60_ClosesNoClientThatKeepsReading()
    {
        // Ten members each send the whole burst the default rate limit admits (200) at once: every one of the 60
        // members, reading all the while, must get all 2,000 messages. The server let them in, so it must not close a
        // healthy reader as a slow consumer for them (the default queue bounds and the default burst agree).
        const int Members = 60;
        const int Senders = 10;
        int burst = new GroupRelayOptions().RateLimitBurst;
        string[] users = Enumerable.Range(0, Members).Select(i => "m" + i.ToString("D2", CultureInfo.InvariantCulture)).ToArray();
        Group("burst", users);
        await StartAsync();
        var clients = new List<RelayTestClient>();
        foreach (string user in users)
        {
            clients.Add(await ConnectAsync(user));
        }

        await Task.WhenAll(clients.Take(Senders).Select(async sender =>
        {
            for (int i = 0; i < burst; i++)
            {
                await sender.SendTextAsync("{\"type\":\"send\",\"group\":\"burst\",\"body\":{\"n\":" + i.ToString(CultureInfo.InvariantCulture) + ",\"text\":\"a message of an ordinary chat size\"}}");
            }
        })).WaitAsync(LongTimeout);

        foreach (RelayTestClient client in clients)
        {
            List<JsonElement> messages = await client.CollectAsync("message", Senders * burst, LongTimeout);
            messages.Should().HaveCount(Senders * burst, $"{client.User} kept reading");
            ShouldStrictlyIncrease(messages.Select(m => m.GetProperty("seq").GetInt64()).ToList(), client.User);
        }

        clients.Should().OnlyContain(c => c.Socket.State == WebSocketState.Open, "no reader that keeps reading is a slow consumer");
        (await SettleAsync(clients[0])).Where(f => Type(f) is "error").Should().BeEmpty("the burst is within the rate limit");
    }

    [Fact]
    public async Task JsonNesting_Depth64_IsAccepted_Depth65_IsBadRequest()
    {
        Group("team", "alice", "bob");
        await StartAsync();
        RelayTestClient alice = await ConnectAsync("alice");
        RelayTestClient bob = await ConnectAsync("bob");

        // The request object is level 1, so a body of 63 nested arrays makes depth 64.
        string depth64 = new string('[', 63) + new string(']', 63);
        string depth65 = new string('[', 64) + new string(']', 64);
        await alice.SendTextAsync("{\"type\":\"send\",\"id\":\"d64\",\"group\":\"team\",\"body\":" + depth64 + "}");
        await alice.SendTextAsync("{\"type\":\"send\",\"id\":\"d65\",\"group\":\"team\",\"body\":" + depth65 + "}");

        Str(await alice.ExpectAsync("ack"), "id").Should().Be("d64");
        JsonElement error = await alice.ExpectAsync("error");
        Str(error, "id").Should().Be("d65");
        Str(error, "code").Should().Be("bad_request");
        (await bob.ExpectAsync("message")).GetProperty("body").GetRawText().Should().Be(depth64);
        await ExpectNothingAsync(bob, "message");
    }

    [Fact]
    public async Task Ids_GroupOf128Chars_IsAccepted()
    {
        string group = new('g', 128);
        Group(group, "alice");
        await StartAsync();
        RelayTestClient alice = await ConnectAsync("alice");

        Type(await SendToGroupAsync(alice, group, "long name")).Should().Be("ack");
        Str(await alice.ExpectAsync("message"), "group").Should().Be(group);
    }

    [Fact]
    public async Task MaxFrameBytes_DefaultIs64KiB()
    {
        Group("team", "alice", "bob");
        await StartAsync();
        RelayTestClient alice = await ConnectAsync("alice");
        RelayTestClient bob = await ConnectAsync("bob");

        await alice.SendTextAsync(SendFrameOfSize("team", 64 * 1024));
        Type(await alice.ExpectAsync("ack")).Should().Be("ack", "a frame of exactly 64 KiB is allowed");
        await bob.SendTextAsync(SendFrameOfSize("team", (64 * 1024) + 1));

        (await bob.WaitForCloseAsync()).Should().Be(RelayCloseCodes.MessageTooBig);
        alice.Socket.State.Should().Be(WebSocketState.Open);
    }
}
