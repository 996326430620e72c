using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using System.Text.Json;
using System.Threading.Tasks;
using FluentAssertions;
using Xunit;

namespace GroupRelay.Specification.Tests;

/// <summary>PROTOCOL.md section 3, <c>send</c>: the routing algorithm and its guarantees; server-side publishing.</summary>
public abstract partial class RelayProtocolSpecification
{
    [Fact]
    public async Task Send_ToGroup_ReachesEveryConnectionOfEveryMemberOnce_AndAckCarriesSeq()
    {
        Group("team", "alice", "bob", "carol");
        Group("other", "dave");
        await StartAsync();
        RelayTestClient alice = await ConnectAsync("alice");
        RelayTestClient bob1 = await ConnectAsync("bob");
        RelayTestClient bob2 = await ConnectAsync("bob");
        RelayTestClient carol = await ConnectAsync("carol");
        RelayTestClient dave = await ConnectAsync("dave");

        JsonElement ack = await alice.RequestAsync(Req("send", ("group", "team"), ("body", new { text = "hi" })));

        Type(ack).Should().Be("ack");
        long seq = ack.GetProperty("seq").GetInt64();
        seq.Should().Be(1, "the first message of a group gets seq 1");
        foreach (RelayTestClient client in new[] { alice, bob1, bob2, carol })
        {
            JsonElement message = await client.ExpectAsync("message");
            message.GetProperty("group").GetString().Should().Be("team");
            message.GetProperty("from").GetString().Should().Be("alice");
            message.GetProperty("seq").GetInt64().Should().Be(seq);
            message.GetProperty("body").GetRawText().Should().Be("{\"text\":\"hi\"}");
            message.GetProperty("ts").GetInt64().Should().BeGreaterThan(0);
            await ExpectNothingAsync(client, "message", "each connection gets the message exactly once");
        }

        await ExpectNothingAsync(dave, because: "a non-member gets nothing");
    }

    [Fact]
    public async Task Send_Twice_SeqCountsUpPerGroup_AndTsIsTheServerClockInUnixMilliseconds()
    {
        Group("team", "alice");
        Group("family", "alice");
        await StartAsync();
        RelayTestClient alice = await ConnectAsync("alice");
        long before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

        long team1 = (await SendToGroupAsync(alice, "team", 1)).GetProperty("seq").GetInt64();
        long team2 = (await SendToGroupAsync(alice, "team", 2)).GetProperty("seq").GetInt64();
        long family1 = (await SendToGroupAsync(alice, "family", 3)).GetProperty("seq").GetInt64();

        team2.Should().Be(team1 + 1);
        family1.Should().Be(1, "each group has its own sequence");
        List<JsonElement> messages = await alice.CollectAsync("message", 3);
        long after = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        messages.Select(m => m.GetProperty("ts").GetInt64()).Should().AllSatisfy(ts => ts.Should().BeInRange(before - 5_000, after + 5_000));
    }

    [Fact]
    public async Task Send_ToGroupNotAMemberOf_IsNotMemberError_AndNothingIsDelivered()
    {
        Group("ops", "bob");
        Group("team", "alice");
        await StartAsync();
        RelayTestClient alice = await ConnectAsync("alice");
        RelayTestClient bob = await ConnectAsync("bob");

        JsonElement reply = await alice.RequestAsync(Req("send", ("id", "m1"), ("group", "ops"), ("body", "x")));

        Type(reply).Should().Be("error");
        reply.GetProperty("code").GetString().Should().Be("not_member");
        reply.GetProperty("id").GetString().Should().Be("m1");
        reply.GetProperty("message").GetString().Should().NotBeNullOrEmpty();
        await ExpectNothingAsync(bob, "message");
        await ExpectNothingAsync(alice, "message");
    }

    [Fact]
    public async Task Send_WithEchoFalse_SendingConnectionGetsNoMessage_ButTheUsersOtherConnectionsDo()
    {
        Group("team", "alice", "bob");
        await StartAsync();
        RelayTestClient sending = await ConnectAsync("alice");
        RelayTestClient otherTab = await ConnectAsync("alice");
        RelayTestClient bob = await ConnectAsync("bob");

        JsonElement ack = await sending.RequestAsync(Req("send", ("id", "e1"), ("group", "team"), ("body", "quiet"), ("echo", false)));

        Type(ack).Should().Be("ack");
        long seq = ack.GetProperty("seq").GetInt64();
        (await otherTab.ExpectAsync("message")).GetProperty("seq").GetInt64().Should().Be(seq);
        (await bob.ExpectAsync("message")).GetProperty("seq").GetInt64().Should().Be(seq);
        await ExpectNothingAsync(sending, "message", "echo:false spares the sending connection only");
    }

    [Fact]
    public async Task Send_WithEcho_OnTheSendingConnectionTheEchoComesBeforeTheAck()
    {
        Group("team", "alice");
        await StartAsync();
        RelayTestClient alice = await ConnectAsync("alice");

        await alice.SendAsync(Req("send", ("id", "a1"), ("group", "team"), ("body", 1)));
        await alice.SendAsync(Req("send", ("id", "a2"), ("group", "team"), ("body", 2), ("echo", true)));

        var frames = new List<JsonElement>();
        for (int i = 0; i < 4; i++)
        {
            frames.Add(await alice.ReceiveAsync());
        }

        // What the protocol promises: each ack after its own echo, acks in request order, messages in seq order. A
        // node behind a backplane pipelines sends, so message 2 may come before ack a1 (docs/protocol.md, section 6).
        List<string> order = frames.Select(f => Type(f) + ":" + (Str(f, "id") ?? f.GetProperty("body").GetRawText())).ToList();
        order.Should().BeEquivalentTo(new[] { "message:1", "ack:a1", "message:2", "ack:a2" });
        order.IndexOf("message:1").Should().BeLessThan(order.IndexOf("ack:a1"));
        order.IndexOf("message:2").Should().BeLessThan(order.IndexOf("ack:a2"));
        order.IndexOf("ack:a1").Should().BeLessThan(order.IndexOf("ack:a2"));
        order.IndexOf("message:1").Should().BeLessThan(order.IndexOf("message:2"));
        JsonElement[] messages = frames.Where(f => Type(f) == "message").ToArray();
        JsonElement[] acks = frames.Where(f => Type(f) == "ack").ToArray();
        acks[0].GetProperty("seq").GetInt64().Should().Be(messages[0].GetProperty("seq").GetInt64());
        acks[1].GetProperty("seq").GetInt64().Should().Be(messages[1].GetProperty("seq").GetInt64());
    }

    [Fact]
    public async Task Send_WithForgedFromUserAndSeq_ServerStampsTheRealSenderAndItsOwnSeq()
    {
        Group("team", "alice", "bob");
        await StartAsync();
        RelayTestClient alice = await ConnectAsync("alice");
        RelayTestClient bob = await ConnectAsync("bob");

        JsonElement ack = await alice.RequestAsync(Req("send", ("group", "team"), ("body", "trust me"), ("from", "bob"), ("user", "bob"), ("seq", 999), ("ts", 1)));

        Type(ack).Should().Be("ack");
        long seq = ack.GetProperty("seq").GetInt64();
        seq.Should().NotBe(999);
        JsonElement message = await bob.ExpectAsync("message");
        message.GetProperty("from").GetString().Should().Be("alice");
        message.GetProperty("seq").GetInt64().Should().Be(seq);
        message.GetProperty("ts").GetInt64().Should().NotBe(1);
        message.TryGetProperty("user", out _).Should().BeFalse("a message frame has no 'user' field, and a forged one is not copied");
    }

    [Fact]
    public async Task Send_WithUnknownFields_TheyAreIgnored()
    {
        Group("team", "alice");
        await StartAsync();
        RelayTestClient alice = await ConnectAsync("alice");

        JsonElement ack = await alice.RequestAsync(Req("send", ("group", "team"), ("body", "x"), ("futureField", new { nested = new[] { 1, 2 } })));

        Type(ack).Should().Be("ack");
        (await alice.ExpectAsync("message")).TryGetProperty("futureField", out _).Should().BeFalse();
    }

    [Fact]
    public async Task Send_NonCompactBody_ArrivesAsTheSameValueWrittenCompactly()
    {
        Group("team", "alice", "bob");
        await StartAsync();
        RelayTestClient alice = await ConnectAsync("alice");
        RelayTestClient bob = await ConnectAsync("bob");

        // The body's tokens, with escapes and non-ASCII text; whitespace (including raw line feeds) goes between them.
        string[] tokens =
        {
            "{", "\"text\"", ":", "\"a \\\"quoted\\\" word, a back\\\\slash, a \\n newline, a \\t tab, \\u00e9, é, 😀, 中文 and spaces  inside\"", ",",
            "\"list\"", ":", "[", "1", ",", "-2.5e3", ",", "true", ",", "false", ",", "null", ",", "{", "}", ",", "[", "]", "]", ",",
            "\"nested\"", ":", "{", "\"k\"", ":", "\"v\"", "}", "}",
        };
        string sentBody = string.Join(" \n\t\r\n  ", tokens);
        string compact = string.Concat(tokens);

        await alice.SendTextAsync("{\"type\":\"send\",\"id\":\"nc\",\"group\":\"team\",\"body\":" + sentBody + "}");

        JsonElement ack = await alice.ExpectAsync("ack");
        ack.GetProperty("id").GetString().Should().Be("nc");
        JsonElement body = (await bob.ExpectAsync("message")).GetProperty("body");
        body.GetRawText().Should().Be(compact);
        using JsonDocument sent = JsonDocument.Parse(sentBody);
        JsonElement.DeepEquals(body, sent.RootElement).Should().BeTrue();
        body.GetProperty("text").GetString().Should().Be(sent.RootElement.GetProperty("text").GetString());
    }

    [Theory]
    [InlineData("{\"text\":\"hi\",\"n\":[1,2.50,-0,1E+2],\"esc\":\"\\u00e9\\/\\\"\\\\\\n\",\"raw\":\"é😀\"}")]
    [InlineData("\"just a string with \\\"escapes\\\" and a \\\\ backslash\"")]
    [InlineData("12345678901234567890.5e-3")]
    [InlineData("[]")]
    [InlineData("null")]
    [InlineData("false")]
    public async Task Send_CompactBody_ArrivesByteIdentical(string body)
    {
        Group("team", "alice", "bob");
        await StartAsync();
        RelayTestClient alice = await ConnectAsync("alice");
        RelayTestClient bob = await ConnectAsync("bob");

        await alice.SendRawAsync(Encoding.UTF8.GetBytes("{\"type\":\"send\",\"group\":\"team\",\"body\":" + body + ",\"id\":\"c1\"}"), System.Net.WebSockets.WebSocketMessageType.Text);

        Type(await alice.ExpectAsync("ack")).Should().Be("ack");
        (await bob.ExpectAsync("message")).GetProperty("body").GetRawText().Should().Be(body);
        (await alice.ExpectAsync("message")).GetProperty("body").GetRawText().Should().Be(body);
    }

    [Fact]
    public async Task Send_ConcurrentSenders_EveryConnectionSeesEveryMessageOnceInStrictlyIncreasingSeq()
    {
        const int Senders = 4;
        const int PerSender = 250;
        string[] senderNames = Enumerable.Range(0, Senders).Select(i => "sender" + i).ToArray();
        Group("team", senderNames.Append("reader").ToArray());
        await StartAsync(o =>
        {
            o.RateLimitEnabled = false;

            // Each connection gets 1,000 messages (and a sender 250 acks) in a burst: on a loaded machine its reader
            // may fall behind the default queue bound, which would rightly close it as a slow consumer (4001).
            o.MaxQueueFrames = 100_000;
            o.MaxQueueBytes = 64 * 1024 * 1024;
        });
        RelayTestClient[] senders = new RelayTestClient[Senders];
        for (int i = 0; i < Senders; i++)
        {
            senders[i] = await ConnectAsync(senderNames[i]);
        }

        RelayTestClient reader1 = await ConnectAsync("reader");
        RelayTestClient reader2 = await ConnectAsync("reader");

        // Pipelined: every sender writes all its requests without waiting, all senders at once.
        await Task.WhenAll(senders.Select((client, s) => Task.Run(async () =>
        {
            for (int n = 0; n < PerSender; n++)
            {
                await client.SendAsync(Req("send", ("id", $"s{s}-{n}"), ("group", "team"), ("body", new { s, n })));
            }
        }))).WaitAsync(LongTimeout);

        var ackSeqs = new List<long>();
        foreach (RelayTestClient sender in senders)
        {
            List<JsonElement> acks = await sender.CollectAsync("ack", PerSender, LongTimeout);
            ackSeqs.AddRange(acks.Select(a => a.GetProperty("seq").GetInt64()));
            acks.Select(a => a.GetProperty("id").GetString()).Should().OnlyHaveUniqueItems();
        }

        ackSeqs.Should().OnlyHaveUniqueItems().And.HaveCount(Senders * PerSender);
        foreach (RelayTestClient client in senders.Append(reader1).Append(reader2))
        {
            List<JsonElement> messages = await client.CollectAsync("message", Senders * PerSender, LongTimeout);
            long[] seqs = messages.Select(m => m.GetProperty("seq").GetInt64()).ToArray();
            ShouldStrictlyIncrease(seqs, client.User);
            // Equal against the sorted acks rather than BeEquivalentTo, whose unordered matching is quadratic.
            seqs.Should().Equal(ackSeqs.Order(), "every acknowledged message reaches every connection, and nothing else does");
            messages.Select(m => m.GetProperty("from").GetString() + "/" + m.GetProperty("body").GetProperty("n").GetInt32())
                .Should().OnlyHaveUniqueItems();
            foreach (IGrouping<string?, JsonElement> bySender in messages.GroupBy(m => m.GetProperty("from").GetString()))
            {
                bySender.Select(m => m.GetProperty("body").GetProperty("n").GetInt32()).Should().Equal(Enumerable.Range(0, PerSender), "one sender's messages keep its order");
            }

            await ExpectNothingAsync(client, "message", "no message is delivered twice");
        }
    }

    [Fact]
    public async Task PublishAsync_FromServer_ReachesEveryMembersConnectionsWithGivenSenderAndNextSeq()
    {
        Group("team", "alice", "bob");
        Group("other", "dave");
        await StartAsync();
        RelayTestClient alice = await ConnectAsync("alice");
        RelayTestClient bob1 = await ConnectAsync("bob");
        RelayTestClient bob2 = await ConnectAsync("bob");
        RelayTestClient dave = await ConnectAsync("dave");
        long first = (await SendToGroupAsync(alice, "team", "before")).GetProperty("seq").GetInt64();

        using JsonDocument body = JsonDocument.Parse("{\"text\":\"deploy at 5\"}");
        long published = await Server.Relay.PublishAsync("team", body.RootElement, from: "system").AsTask().WaitAsync(Timeout);

        published.Should().Be(first + 1);
        foreach (RelayTestClient client in new[] { alice, bob1, bob2 })
        {
            List<JsonElement> messages = await client.CollectAsync("message", 2);
            messages[1].GetProperty("from").GetString().Should().Be("system");
            messages[1].GetProperty("seq").GetInt64().Should().Be(published);
            messages[1].GetProperty("group").GetString().Should().Be("team");
            JsonElement.DeepEquals(messages[1].GetProperty("body"), body.RootElement).Should().BeTrue();
        }

        await ExpectNothingAsync(dave);
    }
}
