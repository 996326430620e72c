using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Text.Json;
using System.Threading.Tasks;
using FluentAssertions;
using GroupRelay.Specification.Tests;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;
using Xunit;

namespace GroupRelay.Redis.Tests;

/// <summary>What only a scale-out has: order with senders on several nodes, node loss, Redis loss, ids as data.</summary>
public sealed class RedisScaleOutTests : TwoRedisNodesTests
{
    [Fact]
    public async Task ConcurrentSenders_OnBothNodes_EveryConnectionSeesEveryMessageOnce_InStrictlyIncreasingSeq()
    {
        const int perSender = 60;
        Group("g", "s1", "s2", "w1", "w2");
        await StartNodesAsync();
        RelayTestClient s1 = await ConnectAsync(A, "s1");
        RelayTestClient s2 = await ConnectAsync(B, "s2");
        RelayTestClient w1 = await ConnectAsync(A, "w1");
        RelayTestClient w2 = await ConnectAsync(B, "w2");

        async Task SendAll(RelayTestClient sender)
        {
            for (int i = 0; i < perSender; i++)
            {
                await sender.SendAsync(Send("g", new { from = sender.User, i }, id: sender.User + "-" + i));
            }
        }

        await Task.WhenAll(SendAll(s1), SendAll(s2)).WaitAsync(TimeSpan.FromSeconds(30));

        foreach (RelayTestClient client in new[] { s1, s2, w1, w2 })
        {
            var seqs = new List<long>();
            while (seqs.Count < perSender * 2)
            {
                JsonElement message = await client.ExpectAsync("message", timeout: TimeSpan.FromSeconds(15));
                seqs.Add(message.GetProperty("seq").GetInt64());
            }

            seqs.Should().BeInAscendingOrder().And.OnlyHaveUniqueItems($"{client.User} must see the group's messages in strictly increasing seq");
            seqs.Should().Equal(Enumerable.Range(1, perSender * 2).Select(i => (long)i), "seq is global and gap-free across both nodes");
            (await client.NextWithinAsync(QuietWindow, "message")).Should().BeNull("each message arrives once");
        }
    }

    [Fact]
    public async Task PipelinedSends_FromOneConnection_KeepRequestOrder_EachAckAfterItsEcho_AndALaterRequestIsAnsweredAfterThem()
    {
        // More than RequestDispatcher.MaxPipelinedSends, so the receive loop also has to wait for answers once.
        const int count = 300;
        Group("g", "sender", "far");
        await StartNodesAsync(o => o.RateLimitEnabled = false);
        RelayTestClient sender = await ConnectAsync(A, "sender");
        RelayTestClient far = await ConnectAsync(B, "far");
        await sender.ExpectAsync("joined", f => f.GetProperty("user").GetString() == "far");

        for (int i = 0; i < count; i++)
        {
            await sender.SendAsync(Send("g", new { i }, id: "m" + i));
        }

        await sender.SendAsync(new Dictionary<string, object?> { ["type"] = "members", ["id"] = "last", ["group"] = "g" });

        var echoed = new HashSet<long>();
        var ackOrder = new List<int>();
        long lastAckSeq = 0;
        while (true)
        {
            JsonElement frame = await sender.ReceiveAsync(TimeSpan.FromSeconds(15));
            string type = frame.GetProperty("type").GetString()!;
            if (type == "message")
            {
                echoed.Add(frame.GetProperty("seq").GetInt64());
            }
            else if (type == "ack")
            {
                long seq = frame.GetProperty("seq").GetInt64();
                echoed.Should().Contain(seq, "the echo comes before the ack on the sending connection");
                seq.Should().BeGreaterThan(lastAckSeq, "acks keep request order and seq follows it");
                lastAckSeq = seq;
                ackOrder.Add(int.Parse(frame.GetProperty("id").GetString()!.AsSpan(1), System.Globalization.CultureInfo.InvariantCulture));
            }
            else if (type == "error")
            {
                throw new InvalidOperationException("unexpected error frame: " + frame.GetRawText());
            }
            else if (type == "members")
            {
                ackOrder.Should().HaveCount(count, "a request after pipelined sends is answered after all of them");
                break;
            }
        }

        ackOrder.Should().Equal(Enumerable.Range(0, count));
        List<JsonElement> received = await far.CollectAsync("message", count, TimeSpan.FromSeconds(15));
        received.Select(m => m.GetProperty("body").GetProperty("i").GetInt32()).Should().Equal(Enumerable.Range(0, count), "one sender's messages keep its order on every node");
    }

    [Fact]
    public async Task MembersWatchAndEvents_CrossNodes()
    {
        Group("team", "alice", "bob");
        await StartNodesAsync();
        RelayTestClient alice = await ConnectAsync(A, "alice");
        RelayTestClient bob = await ConnectAsync(B, "bob");
        await alice.ExpectAsync("joined", f => f.GetProperty("user").GetString() == "bob");

        JsonElement members = await alice.RequestAsync(new Dictionary<string, object?> { ["type"] = "members", ["group"] = "team" });
        members.GetProperty("online").EnumerateArray().Select(e => e.GetString()).Should().BeEquivalentTo("alice", "bob");
        JsonElement presence = await alice.RequestAsync(new Dictionary<string, object?> { ["type"] = "watch", ["users"] = new[] { "bob" } });
        presence.GetProperty("online").EnumerateArray().Select(e => e.GetProperty("user").GetString()).Should().Equal("bob");
        (await A.Relay.GetOnlineUsersAsync()).Should().BeEquivalentTo(new[] { "alice", "bob" });

        await bob.RequestAsync(new Dictionary<string, object?> { ["type"] = "status", ["value"] = "away" });
        JsonElement away = await alice.ExpectAsync("presence", f => f.TryGetProperty("user", out _));
        away.GetProperty("status").GetString().Should().Be("away");
        (await A.Relay.GetPresenceAsync("bob")).Should().Be(new PresenceState(true, "away"));

        await bob.CloseAsync();
        JsonElement offline = await alice.ExpectAsync("presence", f => f.TryGetProperty("user", out _) && !f.GetProperty("online").GetBoolean());
        offline.GetProperty("user").GetString().Should().Be("bob");
        await alice.ExpectAsync("left", f => f.GetProperty("user").GetString() == "bob");
        (await A.Relay.GetOnlineMembersAsync("team")).Should().Equal("alice");
    }

    [Fact]
    public async Task UserOnBothNodes_StaysOnline_UntilItsLastConnectionAnywhereCloses()
    {
        Group("team", "alice", "bob");
        await StartNodesAsync();
        RelayTestClient alice = await ConnectAsync(A, "alice");
        RelayTestClient bobA = await ConnectAsync(A, "bob");
        RelayTestClient bobB = await ConnectAsync(B, "bob");
        await alice.ExpectAsync("joined");
        (await alice.NextWithinAsync(QuietWindow, "joined")).Should().BeNull("bob's second connection (other node) is not a new join");

        await bobA.CloseAsync();
        (await alice.NextWithinAsync(QuietWindow, "left")).Should().BeNull("bob is still online on node B");
        await alice.RequestAsync(Send("team", "hi"));
        (await bobB.ExpectAsync("message")).GetProperty("body").GetString().Should().Be("hi");

        await bobB.CloseAsync();
        await alice.ExpectAsync("left", f => f.GetProperty("user").GetString() == "bob");
    }

    [Fact]
    public async Task RuntimeMembership_AndServerPublish_WorkFromAnyNode()
    {
        Group("team", "alice");
        Group("lobby", "bob");
        await StartNodesAsync();
        RelayTestClient alice = await ConnectAsync(A, "alice");
        RelayTestClient bob = await ConnectAsync(B, "bob");

        (await alice.RequestAsync(Send("team", "before bob"))).GetProperty("seq").GetInt64().Should().Be(1);
        (await A.Relay.AddUserToGroupAsync("bob", "team")).Should().BeTrue();
        JsonElement added = await bob.ExpectAsync("added");
        added.GetProperty("group").GetString().Should().Be("team");
        added.GetProperty("epoch").GetString().Should().Be(alice.Welcome.GetProperty("positions").GetProperty("team").GetProperty("epoch").GetString(), "added carries the group's position, read in Redis");
        added.GetProperty("seq").GetInt64().Should().Be(1);
        await alice.ExpectAsync("joined", f => f.GetProperty("user").GetString() == "bob");
        (await A.Relay.AddUserToGroupAsync("bob", "team")).Should().BeFalse("already a member");

        long seq = await A.Relay.PublishAsync("team", JsonSerializer.SerializeToUtf8Bytes(new { text = "deploy" }), from: "system");
        (await bob.ExpectAsync("message", f => f.GetProperty("seq").GetInt64() == seq)).GetProperty("from").GetString().Should().Be("system");
        await alice.ExpectAsync("message", f => f.GetProperty("seq").GetInt64() == seq);

        (await A.Relay.RemoveUserFromGroupAsync("bob", "team")).Should().BeTrue();
        await bob.ExpectAsync("removed");
        await B.Relay.PublishAsync("team", JsonSerializer.SerializeToUtf8Bytes("after"), from: "system");
        await alice.ExpectAsync("message", f => f.GetProperty("body").GetString() == "after");
        (await bob.NextWithinAsync(QuietWindow, "message")).Should().BeNull("bob was removed");
    }

    [Fact]
    public async Task NodeKilledAbruptly_ItsUsersGoOfflineForOthers_WithinTheNodeTimeout_AndARestartDoesNotResurrectThem()
    {
        Group("team", "alice", "bob");
        await StartNodesAsync();
        RelayTestClient alice = await ConnectAsync(A, "alice");
        RelayTestClient bob = await ConnectAsync(B, "bob");
        await alice.RequestAsync(new Dictionary<string, object?> { ["type"] = "watch", ["users"] = new[] { "bob" } });

        DateTime crashed = DateTime.UtcNow;
        await B.CrashAsync();

        // (bob's own 'online' event may still arrive first: it raced alice's watch.)
        JsonElement offline = await alice.ExpectAsync("presence", f => f.TryGetProperty("user", out _) && !f.GetProperty("online").GetBoolean(), TimeSpan.FromSeconds(10));
        offline.GetProperty("user").GetString().Should().Be("bob");
        (DateTime.UtcNow - crashed).Should().BeLessThan(TimeSpan.FromSeconds(6), "the node timeout in these tests is 2 s");
        await alice.ExpectAsync("left", f => f.GetProperty("user").GetString() == "bob");
        (await A.Relay.GetPresenceAsync("bob")).IsOnline.Should().BeFalse();
        (await A.Relay.GetOnlineMembersAsync("team")).Should().Equal("alice");

        B = new RedisRelayNodeHost();
        await B.StartAsync(Server.Endpoint, Membership, _ => { });
        await Task.Delay(TimeSpan.FromSeconds(1));
        (await B.Relay.GetPresenceAsync("bob")).IsOnline.Should().BeFalse("a restarted node starts as a new node");
        (await B.Relay.GetOnlineUsersAsync()).Should().Equal("alice");
    }

    [Fact]
    public async Task SubscriptionsDropped_WithAMessage_ItIsCaughtUpFromTheStream_OnBothNodes_Once_AndBothNodesResubscribe()
    {
        TimeSpan echoTimeout = TimeSpan.FromSeconds(1);
        Group("g", "alice", "bob");
        await StartNodesAsync(configureRedis: o => o.EchoTimeout = echoTimeout);
        RelayTestClient alice = await ConnectAsync(A, "alice");
        RelayTestClient bob = await ConnectAsync(B, "bob");
        JsonElement first = await alice.RequestAsync(Send("g", "first"));
        first.GetProperty("type").GetString().Should().Be("ack");
        await alice.ExpectAsync("message", f => f.GetProperty("body").GetString() == "first");
        await bob.ExpectAsync("message", f => f.GetProperty("body").GetString() == "first");

        // Redis drops a subscriber whose output buffer passes the pub/sub hard limit, and the message with it. With a
        // limit of 1 byte, a message larger than a client's static reply buffer (16 KiB) costs every subscribed node its
        // subscription connection: the publish succeeds, and the channel never brings the message to either node. Each
        // node reads it back from the group's stream once its subscription is restored.
        using ConnectionMultiplexer admin = await ConnectionMultiplexer.ConnectAsync(new ConfigurationOptions { EndPoints = { Server.Endpoint }, AllowAdmin = true });
        IServer server = admin.GetServer(admin.GetEndPoints()[0]);
        await server.ConfigSetAsync("client-output-buffer-limit", "pubsub 1 1 0");
        string big = new('x', 40_000);
        var waited = Stopwatch.StartNew();
        JsonElement lost = await alice.RequestAsync(Send("g", big));
        waited.Stop();
        await server.ConfigSetAsync("client-output-buffer-limit", "pubsub 32mb 8mb 60");

        lost.GetProperty("type").GetString().Should().Be("ack", "a lost echo must not cost the sender its answer");
        long lostSeq = lost.GetProperty("seq").GetInt64();
        lostSeq.Should().Be(first.GetProperty("seq").GetInt64() + 1, "the ack tells the seq Redis assigned");
        waited.Elapsed.Should().BeLessThan(echoTimeout * 5, "the ack is bounded by EchoTimeout whether or not the catch-up came first");
        (await alice.ExpectAsync("message", f => f.GetProperty("seq").GetInt64() == lostSeq, TimeSpan.FromSeconds(10))).GetProperty("body").GetString().Should().Be(big, "the sender's node caught it up from the stream");
        (await bob.ExpectAsync("message", f => f.GetProperty("seq").GetInt64() == lostSeq, TimeSpan.FromSeconds(10))).GetProperty("body").GetString().Should().Be(big, "so did the other node");
        (await alice.NextWithinAsync(QuietWindow, "message")).Should().BeNull("caught up once");
        (await bob.NextWithinAsync(QuietWindow, "message")).Should().BeNull("caught up once");

        // Both nodes subscribe again by themselves: cross-node delivery and echo-before-ack resume.
        DateTime resubscribing = DateTime.UtcNow;
        bool resumed = false;
        for (int i = 0; !resumed && DateTime.UtcNow - resubscribing < TimeSpan.FromSeconds(15); i++)
        {
            await alice.SendAsync(Send("g", "after-" + i, id: "after-" + i));
            JsonElement echo = await alice.ExpectAsync("message", timeout: TimeSpan.FromSeconds(5));
            JsonElement ack = await alice.ExpectAsync("ack", a => a.GetProperty("id").GetString() == "after-" + i);
            echo.GetProperty("body").GetString().Should().Be("after-" + i, "on the sending connection the echo comes before the ack");
            echo.GetProperty("seq").GetInt64().Should().Be(ack.GetProperty("seq").GetInt64());
            resumed = await bob.NextWithinAsync(TimeSpan.FromMilliseconds(250), "message") is not null;
        }

        resumed.Should().BeTrue("node B subscribes again and receives alice's messages");
        alice.Closed.IsCompleted.Should().BeFalse();
        bob.Closed.IsCompleted.Should().BeFalse();
    }

    [Fact]
    public async Task AdversarialGroupIds_DoNotCollide_NorActAsPatterns()
    {
        string[] groups = { "a*", "a", "a:b", "a b", "x\ny", "*", "?", "[ab]", "grouprelay:ch:g:YQ", "ünï😀", "a\\*" };
        for (int i = 0; i < groups.Length; i++)
        {
            Group(groups[i], "sender", "member" + i);
        }

        await StartNodesAsync();
        RelayTestClient sender = await ConnectAsync(A, "sender");
        var members = new RelayTestClient[groups.Length];
        for (int i = 0; i < groups.Length; i++)
        {
            members[i] = await ConnectAsync(i % 2 == 0 ? B : A, "member" + i);
        }

        for (int i = 0; i < groups.Length; i++)
        {
            JsonElement ack = await sender.RequestAsync(Send(groups[i], i));
            ack.GetProperty("type").GetString().Should().Be("ack", $"group {groups[i]}");
        }

        for (int i = 0; i < groups.Length; i++)
        {
            JsonElement message = await members[i].ExpectAsync("message");
            message.GetProperty("group").GetString().Should().Be(groups[i]);
            message.GetProperty("body").GetInt32().Should().Be(i);
            message.GetProperty("seq").GetInt64().Should().Be(1, "each group has its own counter");
            (await members[i].NextWithinAsync(TimeSpan.FromMilliseconds(100), "message")).Should().BeNull($"member of '{groups[i]}' gets only its group");
        }

        (await B.Relay.GetOnlineMembersAsync("a*")).Should().BeEquivalentTo(new[] { "sender", "member0" });
    }
}
