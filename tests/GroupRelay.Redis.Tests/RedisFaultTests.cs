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
/// Redis faults under traffic (issue 12, item 5): two nodes, a sender and a receiver on each, every send with an id and
/// retried with the same id when refused with <c>unavailable</c>. After a dropped subscription or a paused Redis every
/// open connection has every acknowledged message exactly once, in seq order; after Redis lost everything, every
/// connection got a <c>reset</c> and the relay goes on.
/// </summary>
public sealed class RedisFaultTests : TwoRedisNodesTests
{
    private const int MessagesPerSender = 120;
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task SubscriptionConnectionsKilled_UnderTraffic_EveryOpenConnectionGetsEveryAckedMessageOnce_InOrder()
    {
        Traffic traffic = await StartTrafficAsync();
        await Task.Delay(700);
        using (ConnectionMultiplexer admin = await AdminAsync())
        {
            await admin.GetServer(Server.Endpoint).ExecuteAsync("CLIENT", "KILL", "TYPE", "pubsub").WaitAsync(Wait);
        }

        await traffic.FinishAsync();
        await ExpectEveryAckedMessageOnceAsync(traffic);
    }

    [Fact]
    public async Task RedisPausedForThreeSeconds_UnderTraffic_EveryOpenConnectionGetsEveryAckedMessageOnce_InOrder()
    {
        Traffic traffic = await StartTrafficAsync();
        await Task.Delay(700);
        await Server.SignalAsync(pause: true);
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(3));
        }
        finally
        {
            await Server.SignalAsync(pause: false);
        }

        await traffic.FinishAsync();
        await ExpectEveryAckedMessageOnceAsync(traffic);
    }

    [Fact]
    public async Task RedisKilledAndRestartedEmpty_UnderTraffic_EveryConnectionGetsAReset_AndTrafficGoesOn()
    {
        Traffic traffic = await StartTrafficAsync();
        await Task.Delay(700);
        await Server.KillAsync();
        await Task.Delay(TimeSpan.FromSeconds(1));
        await Server.StartAgainAsync();
        await traffic.FinishAsync();

        // The last message of each sender went out after the restart, in the new epoch.
        long[] last = [traffic.Acked["s1-" + (MessagesPerSender - 1)], traffic.Acked["s2-" + (MessagesPerSender - 1)]];
        foreach (RelayTestClient client in traffic.Clients)
        {
            List<JsonElement> frames = await CollectUntilAsync(client, seen => last.All(seq => seen.Any(f => Type(f) == "message" && Seq(f) == seq && AfterReset(seen, f))));
            int reset = frames.FindIndex(f => Type(f) == "reset");
            reset.Should().BeGreaterThanOrEqualTo(0, $"{client.User}: Redis lost the stream, so the new epoch is announced");
            frames.Count(f => Type(f) == "reset").Should().Be(1, $"{client.User}: one new epoch, one reset");
            List<long> after = frames.Skip(reset + 1).Where(f => Type(f) == "message").Select(Seq).ToList();
            after.Should().BeInAscendingOrder().And.OnlyHaveUniqueItems($"{client.User}: the new epoch in seq order, each once");
            after.Should().Contain(last, $"{client.User}: traffic goes on in the new epoch");
            client.Closed.IsCompleted.Should().BeFalse($"{client.User} stays connected");
        }
    }

    [Fact]
    public async Task History_WhileRedisIsPausedOrDown_IsErrorUnavailable_AndWorksAgainOnceBack()
    {
        Group("team", "alice");
        await StartNodesAsync(configureRedis: o => o.NodeTimeout = TimeSpan.FromSeconds(20));
        RelayTestClient alice = await ConnectAsync(A, "alice");
        await alice.RequestAsync(Send("team", 1, id: "m1")).WaitAsync(Wait);

        await Server.SignalAsync(pause: true);
        JsonElement paused;
        try
        {
            // The history script is sent, and its reply does not come within the command timeout.
            paused = await alice.RequestAsync(History("team", after: 0)).WaitAsync(Wait);
        }
        finally
        {
            await Server.SignalAsync(pause: false);
        }

        Type(paused).Should().Be("error", "PROTOCOL.md section 4: the server cannot answer for the stream now");
        paused.GetProperty("code").GetString().Should().Be("unavailable");
        await alice.DrainAsync();

        JsonElement back = await alice.RequestAsync(History("team", after: 0)).WaitAsync(Wait);
        Type(back).Should().Be("history");
        back.GetProperty("seq").GetInt64().Should().Be(1);
        back.GetProperty("complete").GetBoolean().Should().BeTrue();
        alice.TakeSkipped().Count(f => Type(f) == "message").Should().Be(1, "the retained message is replayed once Redis answers");

        await Server.KillAsync();
        JsonElement down = await alice.RequestAsync(History("team", after: 0)).WaitAsync(Wait);
        Type(down).Should().Be("error", "not the last position this node knew, which it cannot vouch for");
        down.GetProperty("code").GetString().Should().Be("unavailable");
        alice.TakeSkipped().Should().NotContain(f => Type(f) == "message", "nothing is replayed");
    }

    [Fact]
    public async Task SendsWhoseReplyIsLost_WhileRedisIsPaused_AreSettledByRedis_DeliveredXorRefused()
    {
        Group("g", "alice", "bob");
        await StartNodesAsync(configureRedis: o => o.NodeTimeout = TimeSpan.FromSeconds(20));
        RelayTestClient alice = await ConnectAsync(A, "alice");
        RelayTestClient bob = await ConnectAsync(B, "bob");
        (await alice.RequestAsync(Send("g", "warm", id: "warm")).WaitAsync(Wait)).GetProperty("seq").GetInt64().Should().Be(1);
        await bob.ExpectAsync("message", timeout: Wait);
        alice.TakeSkipped();

        // Redis stops with the publish script on the wire: its reply cannot come within the 1 s command timeout. One send
        // has no id (no ack; an error would still be sent), one has an id, and the host publishes one.
        await Server.SignalAsync(pause: true);
        Task<long> host;
        Task<JsonElement> withId;
        try
        {
            await alice.SendAsync(Send("g", "no id"));
            await Task.Delay(200);
            host = A.Relay.PublishAsync("g", "\"from the host\""u8.ToArray(), "system").AsTask();
            withId = alice.RequestAsync(Send("g", "with id", id: "m2"));
            await Task.Delay(TimeSpan.FromMilliseconds(2500));
            withId.IsCompleted.Should().BeFalse("the node does not answer before Redis said what became of the sends");
        }
        finally
        {
            await Server.SignalAsync(pause: false);
        }

        // Once Redis goes on, the node learns what became of each send: published (then acknowledged, or for the host
        // its seq) or not (then refused with `unavailable`, and delivered nowhere). Before, each got `unavailable` after
        // the timeout, and the script that ran later delivered it anyway.
        JsonElement reply = await withId.WaitAsync(Wait);
        long? hostSeq = null;
        try
        {
            hostSeq = await host.WaitAsync(Wait);
        }
        catch (GroupRelayException)
        {
        }

        List<JsonElement> aliceFrames = await alice.DrainAsync();
        var delivered = new List<JsonElement>();
        while (await bob.NextWithinAsync(TimeSpan.FromSeconds(1), "message") is JsonElement message)
        {
            delivered.Add(message);
        }

        List<string?> bodies = delivered.Select(m => m.GetProperty("body").GetString()).ToList();
        bodies.Should().OnlyHaveUniqueItems("nothing is delivered twice");
        delivered.Select(m => m.GetProperty("seq").GetInt64()).Should().BeInAscendingOrder();
        bool noIdRefused = aliceFrames.Any(f => Type(f) == "error" && f.GetProperty("code").GetString() == "unavailable");
        bodies.Contains("no id").Should().Be(!noIdRefused, "the send without id is delivered exactly when it is not refused");
        bodies.Contains("from the host").Should().Be(hostSeq is not null, "the host's publish returns a seq exactly when it was delivered");
        bodies.Contains("with id").Should().Be(Type(reply) == "ack", "the send with an id is acknowledged exactly when it was delivered");
        if (Type(reply) == "ack")
        {
            reply.GetProperty("seq").GetInt64().Should().Be(delivered.Single(m => m.GetProperty("body").GetString() == "with id").GetProperty("seq").GetInt64());
        }

        // Redis kept the script on the paused connection, so here it did run: all three were delivered and none refused.
        bodies.Should().Equal(["no id", "from the host", "with id"], "the scripts ran when Redis went on, and the node took their outcome from Redis");
    }

    private static Dictionary<string, object?> History(string group, long after)
        => new() { ["type"] = "history", ["group"] = group, ["after"] = after };

    private async Task<Traffic> StartTrafficAsync()
    {
        Group("g", "s1", "s2", "r1", "r2");

        // A node timeout above the pause, so the nodes do not reap each other when Redis's clock jumps on SIGCONT.
        await StartNodesAsync(configureRedis: o => o.NodeTimeout = TimeSpan.FromSeconds(20));
        RelayTestClient s1 = await ConnectAsync(A, "s1");
        RelayTestClient r1 = await ConnectAsync(A, "r1");
        RelayTestClient s2 = await ConnectAsync(B, "s2");
        RelayTestClient r2 = await ConnectAsync(B, "r2");
        var traffic = new Traffic([s1, r1, s2, r2]);
        traffic.Senders.Add(SendAllAsync(s1, traffic));
        traffic.Senders.Add(SendAllAsync(s2, traffic));
        return traffic;
    }

    /// <summary>One sender's messages, one at a time; a send refused with unavailable (or unanswered) goes again with its id.</summary>
    private static async Task SendAllAsync(RelayTestClient sender, Traffic traffic)
    {
        for (int i = 0; i < MessagesPerSender; i++)
        {
            string id = sender.User + "-" + i;
            for (int attempt = 0; ; attempt++)
            {
                attempt.Should().BeLessThan(200, $"{id} is acknowledged once Redis is back");
                JsonElement answer = await sender.RequestAsync(Send("g", i, id)).WaitAsync(Wait);
                if (Type(answer) == "ack")
                {
                    lock (traffic.Acked)
                    {
                        traffic.Acked[id] = answer.GetProperty("seq").GetInt64();
                    }

                    break;
                }

                answer.GetProperty("code").GetString().Should().Be("unavailable", $"{id}: the only refusal is 'not now'");
                await Task.Delay(100);
            }

            await Task.Delay(15);
        }
    }

    private static async Task ExpectEveryAckedMessageOnceAsync(Traffic traffic)
    {
        List<long> acked = traffic.Acked.Values.Distinct().Order().ToList();
        acked.Should().HaveCount(2 * MessagesPerSender, "each message got one seq, also when its retry was a duplicate");
        foreach (RelayTestClient client in traffic.Clients)
        {
            List<JsonElement> frames = await CollectUntilAsync(client, seen => seen.Count(f => Type(f) == "message") >= acked.Count);
            frames.Should().NotContain(f => Type(f) == "reset", $"{client.User}: Redis kept the stream");
            List<long> seqs = frames.Where(f => Type(f) == "message").Select(Seq).ToList();
            seqs.Should().Equal(acked, $"{client.User}: every acknowledged message exactly once, in seq order");
            client.Closed.IsCompleted.Should().BeFalse();
        }
    }

    /// <summary>The client's message and reset frames in arrival order (those a sender set aside first), until <paramref name="done"/> or the timeout.</summary>
    private static async Task<List<JsonElement>> CollectUntilAsync(RelayTestClient client, Func<List<JsonElement>, bool> done)
    {
        var frames = client.TakeSkipped().Where(f => Type(f) is "message" or "reset").ToList();
        DateTime deadline = DateTime.UtcNow + Wait;
        while (!done(frames) && DateTime.UtcNow < deadline)
        {
            JsonElement? frame = await client.NextWithinAsync(TimeSpan.FromSeconds(2));
            if (frame is JsonElement f && Type(f) is "message" or "reset")
            {
                frames.Add(f);
            }
        }

        // Anything more (a duplicate) would come right after: look a little longer.
        while (await client.NextWithinAsync(QuietWindow) is JsonElement extra)
        {
            if (Type(extra) is "message" or "reset")
            {
                frames.Add(extra);
            }
        }

        return frames;
    }

    private static bool AfterReset(List<JsonElement> frames, JsonElement frame)
    {
        int reset = frames.FindIndex(f => Type(f) == "reset");
        return reset >= 0 && frames.IndexOf(frame) > reset;
    }

    private async Task<ConnectionMultiplexer> AdminAsync()
        => await ConnectionMultiplexer.ConnectAsync(new ConfigurationOptions { EndPoints = { Server.Endpoint }, AllowAdmin = true }).WaitAsync(Wait);

    private static string? Type(JsonElement frame) => frame.GetProperty("type").GetString();

    private static long Seq(JsonElement frame) => frame.GetProperty("seq").GetInt64();

    private sealed class Traffic(List<RelayTestClient> clients)
    {
        public List<RelayTestClient> Clients { get; } = clients;

        public List<Task> Senders { get; } = new();

        /// <summary>Each send's id to the seq its ack named; guarded by its own monitor.</summary>
        public Dictionary<string, long> Acked { get; } = new();

        public Task FinishAsync() => Task.WhenAll(Senders).WaitAsync(TimeSpan.FromSeconds(90));
    }
}
