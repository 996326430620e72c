using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.Json;
using System.Threading.Tasks;
using FluentAssertions;
using GroupRelay.Specification.Tests;
using StackExchange.Redis;
using Xunit;

namespace GroupRelay.Redis.Tests;

/// <summary>
/// Group streams through Redis (PROTOCOL.md sections 2 and 3): positions agree on every node, an idempotent send is
/// published once whichever node it is repeated on, and a stream whose state Redis lost starts a new epoch that every
/// open connection learns through <c>reset</c> before its first message.
/// </summary>
public sealed class RedisStreamTests : TwoRedisNodesTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Positions_InWelcome_AgreeAcrossNodes_AndWithTheSeqsDelivered()
    {
        Group("team", "alice", "bob", "carol", "dave");
        await StartNodesAsync();
        RelayTestClient alice = await ConnectAsync(A, "alice");
        RelayTestClient bob = await ConnectAsync(B, "bob");
        (string epoch, long seq) = Position(alice, "team");
        seq.Should().Be(0, "the stream has no message yet");
        Position(bob, "team").Should().Be((epoch, 0L), "both nodes read the same stream, which the first reader started");

        var acked = new List<long>();
        for (int i = 0; i < 3; i++)
        {
            acked.Add((await alice.RequestAsync(Send("team", i)).WaitAsync(Wait)).GetProperty("seq").GetInt64());
        }

        List<JsonElement> seen = await bob.CollectAsync("message", 3, Wait);
        seen.Select(m => m.GetProperty("seq").GetInt64()).Should().Equal(acked).And.Equal(1L, 2L, 3L);

        RelayTestClient carol = await ConnectAsync(A, "carol");
        RelayTestClient dave = await ConnectAsync(B, "dave");
        Position(carol, "team").Should().Be((epoch, 3L), "the position is the epoch and the seq of its latest message");
        Position(dave, "team").Should().Be((epoch, 3L), "the other node answers the same");

        JsonElement next = await dave.RequestAsync(Send("team", "next")).WaitAsync(Wait);
        next.GetProperty("seq").GetInt64().Should().Be(4, "the next message follows the position");
        (await carol.ExpectAsync("message", timeout: Wait)).GetProperty("seq").GetInt64().Should().Be(4);
    }

    [Fact]
    public async Task RedisUnreachable_WelcomePositions_AreWhatTheNodeDelivered()
    {
        Group("team", "alice", "bob", "carol", "dave");
        await StartNodesAsync();
        RelayTestClient alice = await ConnectAsync(A, "alice");
        RelayTestClient bob = await ConnectAsync(A, "bob");
        await alice.RequestAsync(Send("team", 1)).WaitAsync(Wait);
        await alice.RequestAsync(Send("team", 2)).WaitAsync(Wait);
        await bob.CollectAsync("message", 2, Wait);

        // The stream's position as Redis has it (the epoch of the two messages), read through node A.
        RelayTestClient dave = await ConnectAsync(A, "dave");
        (string epoch, long seq) = Position(dave, "team");
        seq.Should().Be(2);

        await Server.KillAsync();
        RelayTestClient carol = await ConnectAsync(A, "carol");
        Position(carol, "team").Should().Be((epoch, 2L), "without Redis the node answers with the epoch and seq it delivered last");
    }

    [Fact]
    public async Task IdempotentSend_RepeatedOnTheOtherNode_IsADuplicateWithTheFirstSeq_AndDeliversNothing()
    {
        Group("team", "alice", "bob", "carol");
        await StartNodesAsync();
        RelayTestClient aliceA = await ConnectAsync(A, "alice");
        RelayTestClient aliceB = await ConnectAsync(B, "alice");
        RelayTestClient bob = await ConnectAsync(B, "bob");
        RelayTestClient carol = await ConnectAsync(A, "carol");

        JsonElement first = await aliceA.RequestAsync(Send("team", "hello", id: "m1")).WaitAsync(Wait);
        first.GetProperty("type").GetString().Should().Be("ack");
        first.TryGetProperty("duplicate", out _).Should().BeFalse();
        long seq = first.GetProperty("seq").GetInt64();
        foreach (RelayTestClient member in new[] { aliceB, bob, carol })
        {
            (await member.ExpectAsync("message", timeout: Wait)).GetProperty("seq").GetInt64().Should().Be(seq);
        }

        // The client lost its connection before the ack and resends on another node, with the same id.
        JsonElement repeat = await aliceB.RequestAsync(Send("team", "hello", id: "m1")).WaitAsync(Wait);
        repeat.GetProperty("type").GetString().Should().Be("ack");
        repeat.GetProperty("seq").GetInt64().Should().Be(seq, "a duplicate is answered with the first outcome");
        repeat.GetProperty("duplicate").GetBoolean().Should().BeTrue();

        // Repeats inside one batch: pipelined without waiting, so the publish script sees them together.
        await aliceA.SendAsync(Send("team", "twice", id: "m2"));
        await aliceA.SendAsync(Send("team", "twice", id: "m2"));
        JsonElement once = await aliceA.ExpectAsync("ack", timeout: Wait);
        JsonElement again = await aliceA.ExpectAsync("ack", timeout: Wait);
        once.GetProperty("seq").GetInt64().Should().Be(seq + 1);
        again.GetProperty("seq").GetInt64().Should().Be(seq + 1);
        again.GetProperty("duplicate").GetBoolean().Should().BeTrue();

        foreach (RelayTestClient member in new[] { aliceB, bob, carol })
        {
            JsonElement twice = await member.ExpectAsync("message", timeout: Wait);
            twice.GetProperty("seq").GetInt64().Should().Be(seq + 1, $"{member.User} gets the pipelined message once, right after the first");
            (await member.NextWithinAsync(QuietWindow, "message")).Should().BeNull($"{member.User} gets no message again");
        }
    }

    [Fact]
    public async Task IdempotentSend_SameIdForAnotherGroup_IsBadRequest_AndPublishesNothing()
    {
        Group("team", "alice", "bob");
        Group("ops", "alice", "bob");
        await StartNodesAsync();
        RelayTestClient aliceA = await ConnectAsync(A, "alice");
        RelayTestClient aliceB = await ConnectAsync(B, "alice");
        RelayTestClient bob = await ConnectAsync(B, "bob");

        (await aliceA.RequestAsync(Send("team", "hello", id: "m1")).WaitAsync(Wait)).GetProperty("type").GetString().Should().Be("ack");
        await bob.ExpectAsync("message", f => f.GetProperty("group").GetString() == "team", Wait);

        JsonElement reused = await aliceB.RequestAsync(Send("ops", "hello", id: "m1")).WaitAsync(Wait);
        reused.GetProperty("type").GetString().Should().Be("error");
        reused.GetProperty("code").GetString().Should().Be("bad_request");
        (await bob.NextWithinAsync(QuietWindow, "message")).Should().BeNull("nothing was published to ops");

        JsonElement fresh = await aliceB.RequestAsync(Send("ops", "hello", id: "m2")).WaitAsync(Wait);
        fresh.GetProperty("seq").GetInt64().Should().Be(1, "ops's numbering was not touched by the refused send");
    }

    [Fact]
    public async Task FlushAll_StreamStateLost_NextMessageStartsANewEpoch_AndEveryOpenConnectionGetsResetBeforeIt()
    {
        Group("team", "alice", "bob", "carol", "dave");
        await StartNodesAsync();
        RelayTestClient alice = await ConnectAsync(A, "alice");
        RelayTestClient bob = await ConnectAsync(B, "bob");
        RelayTestClient carol = await ConnectAsync(A, "carol");
        RelayTestClient dave = await ConnectAsync(B, "dave");
        RelayTestClient[] everyone = { alice, bob, carol, dave };
        (string before, _) = Position(alice, "team");
        for (int i = 1; i <= 2; i++)
        {
            (await alice.RequestAsync(Send("team", i)).WaitAsync(Wait)).GetProperty("seq").GetInt64().Should().Be(i);
        }

        foreach (RelayTestClient client in everyone)
        {
            await client.CollectAsync("message", 2, Wait);
        }

        using (ConnectionMultiplexer admin = await ConnectionMultiplexer.ConnectAsync(new ConfigurationOptions { EndPoints = { Server.Endpoint }, AllowAdmin = true }).WaitAsync(Wait))
        {
            await admin.GetServer(admin.GetEndPoints()[0]).FlushAllDatabasesAsync().WaitAsync(Wait);
        }

        // Sent, not requested: the sender's own reset and echo come before its ack, and are read in order below.
        await bob.SendAsync(Send("team", "after", id: "after"));

        string? after = null;
        foreach (RelayTestClient client in everyone)
        {
            JsonElement reset = await NextStreamFrameAsync(client);
            reset.GetProperty("type").GetString().Should().Be("reset", $"{client.User} learns of the new epoch before its first message");
            reset.GetProperty("group").GetString().Should().Be("team");
            reset.GetProperty("seq").GetInt64().Should().Be(0);
            string epoch = reset.GetProperty("epoch").GetString()!;
            epoch.Should().NotBe(before);
            (after ??= epoch).Should().Be(epoch, "every node resets to the same epoch");

            JsonElement message = await NextStreamFrameAsync(client);
            message.GetProperty("type").GetString().Should().Be("message");
            message.GetProperty("seq").GetInt64().Should().Be(1);
            message.GetProperty("body").GetString().Should().Be("after");
        }

        (await bob.ExpectAsync("ack", timeout: Wait)).GetProperty("seq").GetInt64().Should().Be(1, "the new epoch numbers from 1");
        RelayTestClient late = await ConnectAsync(A, "carol");
        Position(late, "team").Should().Be((after!, 1L), "welcome shows the new epoch");
    }

    [Fact]
    public async Task RedisStoppedAndRestarted_SendsAreUnavailableMeanwhile_ThenTrafficResumesUnderANewEpoch()
    {
        Group("g", "alice", "carol", "bob");
        await StartNodesAsync();
        RelayTestClient alice = await ConnectAsync(A, "alice");
        RelayTestClient carol = await ConnectAsync(A, "carol");
        RelayTestClient bob = await ConnectAsync(B, "bob");
        var carolStream = new List<long>(); // each message's seq, and -1 for a reset, in arrival order

        async Task AliceSendsAndCarolGets(string text)
        {
            // Until the node has reconnected, a send is refused with unavailable: the client retries with the same id.
            JsonElement ack = await alice.RequestAsync(Send("g", text, id: text));
            for (int retry = 0; ack.GetProperty("type").GetString() == "error" && retry < 100; retry++)
            {
                ack.GetProperty("code").GetString().Should().Be("unavailable");
                await Task.Delay(100);
                ack = await alice.RequestAsync(Send("g", text, id: text));
            }

            ack.GetProperty("type").GetString().Should().Be("ack");
            while (true)
            {
                JsonElement frame = await carol.ReceiveAsync(TimeSpan.FromSeconds(10));
                string type = frame.GetProperty("type").GetString()!;
                if (type == "reset")
                {
                    carolStream.Add(-1);
                }
                else if (type == "message")
                {
                    carolStream.Add(frame.GetProperty("seq").GetInt64());
                    if (frame.GetProperty("body").GetString() == text)
                    {
                        return;
                    }
                }
            }
        }

        await AliceSendsAndCarolGets("before");
        await bob.ExpectAsync("message", f => f.GetProperty("body").GetString() == "before");

        await Server.KillAsync();
        for (int i = 0; i < 5; i++)
        {
            // Only Redis numbers a group's messages: without it a send is refused, and nothing is delivered anywhere.
            JsonElement refused = await alice.RequestAsync(Send("g", "during-" + i)).WaitAsync(Wait);
            refused.GetProperty("type").GetString().Should().Be("error");
            refused.GetProperty("code").GetString().Should().Be("unavailable");
        }

        (await carol.NextWithinAsync(QuietWindow, "message")).Should().BeNull("a refused send is delivered nowhere, not even on its node");
        (await bob.NextWithinAsync(QuietWindow, "message")).Should().BeNull("nothing crosses nodes while Redis is away");

        await Server.StartAgainAsync();
        DateTime restarted = DateTime.UtcNow;
        bool resumed = false;
        for (int i = 0; !resumed && DateTime.UtcNow - restarted < TimeSpan.FromSeconds(15); i++)
        {
            await AliceSendsAndCarolGets("after-" + i);
            resumed = await bob.NextWithinAsync(TimeSpan.FromMilliseconds(250), "message") is not null;
        }

        resumed.Should().BeTrue("cross-node delivery resumes once Redis is back");
        (DateTime.UtcNow - restarted).Should().BeLessThan(TimeSpan.FromSeconds(10));
        // Redis came back empty: the stream's state was lost, so its next message starts a new epoch, announced by one
        // reset; within each epoch seq keeps increasing on the connection.
        int reset = carolStream.IndexOf(-1);
        reset.Should().BePositive("Redis lost the stream, so carol gets a reset: " + string.Join(",", carolStream));
        carolStream.Count(x => x == -1).Should().Be(1);
        carolStream.Take(reset).Should().BeInAscendingOrder().And.OnlyHaveUniqueItems();
        carolStream.Skip(reset + 1).Should().StartWith(1L, "the numbering restarts with the new epoch").And.BeInAscendingOrder().And.OnlyHaveUniqueItems();
        alice.Closed.IsCompleted.Should().BeFalse();
        carol.Closed.IsCompleted.Should().BeFalse();
    }

    [Fact]
    public async Task RedisRestartedEmpty_AMessagePublishedBeforeTheNodesSubscribedAgain_ReachesEveryMember_WithoutFurtherTraffic()
    {
        Group("g", "carol", "bob");
        await StartNodesAsync();
        RelayTestClient carol = await ConnectAsync(A, "carol");
        RelayTestClient bob = await ConnectAsync(B, "bob");
        (await B.Relay.PublishAsync("g", "\"before\""u8.ToArray(), "system").AsTask().WaitAsync(Wait)).Should().Be(1);
        await carol.ExpectAsync("message", timeout: Wait);
        await bob.ExpectAsync("message", timeout: Wait);

        // Published as soon as node B reaches the restarted Redis: before the nodes subscribed to the group again, most
        // of the time, so the channel cannot bring it; and nothing is published after it.
        await Server.KillAsync();
        await Server.StartAgainAsync();
        DateTime deadline = DateTime.UtcNow + Wait;
        while (true)
        {
            try
            {
                (await B.Relay.PublishAsync("g", "\"after\""u8.ToArray(), "system").AsTask().WaitAsync(Wait)).Should().Be(1, "the new epoch numbers from 1");
                break;
            }
            catch (GroupRelayException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(20);
            }
        }

        foreach (RelayTestClient client in new[] { carol, bob })
        {
            JsonElement reset = await NextStreamFrameAsync(client);
            reset.GetProperty("type").GetString().Should().Be("reset", $"{client.User}: Redis lost the stream");
            JsonElement after = await NextStreamFrameAsync(client);
            after.GetProperty("type").GetString().Should().Be("message");
            after.GetProperty("body").GetString().Should().Be("after", $"{client.User} gets it once its node subscribed again, read from the stream");
        }
    }

    private static (string Epoch, long Seq) Position(RelayTestClient client, string group)
    {
        JsonElement position = client.Welcome.GetProperty("positions").GetProperty(group);
        return (position.GetProperty("epoch").GetString()!, position.GetProperty("seq").GetInt64());
    }

    /// <summary>The next <c>message</c> or <c>reset</c> frame, in arrival order (others, such as acks and events, are passed over).</summary>
    private static async Task<JsonElement> NextStreamFrameAsync(RelayTestClient client)
    {
        while (true)
        {
            JsonElement frame = await client.ReceiveAsync(Wait);
            if (frame.GetProperty("type").GetString() is "message" or "reset")
            {
                return frame;
            }
        }
    }
}
