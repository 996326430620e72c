using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using FluentAssertions;
using GroupRelay.Internal;
using GroupRelay.Specification.Tests;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace GroupRelay.Redis.Tests;

/// <summary>
/// A dead group (no online member, nothing in flight) holds no state on any node once the sweep's grace has passed, as
/// in process (issue 12, item 1), and a group that comes back later goes on where its stream in Redis stands. The
/// sweep runs on the relay's <see cref="TimeProvider"/>: the tests move a <see cref="FakeTimeProvider"/>, no sleeps.
/// </summary>
public sealed class RedisDeadGroupTests : TwoRedisNodesTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task DeadGroup_HoldsNothingOnAnyNode_AfterTheGrace_AndComesBackInTheSameEpoch()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        Group("team", "alice", "bob", "carol");
        await StartNodesAsync(clock: clock);
        RelayTestClient alice = await ConnectAsync(A, "alice");
        RelayTestClient bob = await ConnectAsync(B, "bob");
        (string epoch, _) = Position(alice, "team");
        for (int i = 1; i <= 2; i++)
        {
            (await alice.RequestAsync(Send("team", i, id: "m" + i)).WaitAsync(Wait)).GetProperty("seq").GetInt64().Should().Be(i);
        }

        await bob.CollectAsync("message", 2, Wait);
        Upkeep(A).GroupStateCounts.Should().Be((1, 1, 1), "node A publishes to the group, is subscribed and delivers it");
        Upkeep(B).GroupStateCounts.Should().Be((0, 1, 1), "node B is subscribed and delivers it");

        await alice.CloseAsync();
        await bob.CloseAsync();
        await EventuallyAsync(() => !Subscribed(A, "team") && !Subscribed(B, "team"), "both nodes unsubscribe once their last member left");
        Upkeep(A).Sweep();
        Upkeep(A).GroupStateCounts.Should().Be((1, 0, 1), "an unsubscribed entry goes at once; the queue and the sequence stay for the grace");

        clock.Advance(GroupUpkeep.DropGrace - TimeSpan.FromSeconds(1));
        Upkeep(A).GroupStateCounts.Should().Be((1, 0, 1), "the sweeps within the grace keep what was used a moment ago");
        clock.Advance(GroupUpkeep.SweepInterval + TimeSpan.FromSeconds(1));
        Upkeep(A).GroupStateCounts.Should().Be((0, 0, 0), "a dead group holds nothing on the node that published to it");
        Upkeep(B).GroupStateCounts.Should().Be((0, 0, 0), "nor on the node that only delivered it");

        // It comes back: Redis kept the stream, so the epoch, the seq and the history go on.
        RelayTestClient carol = await ConnectAsync(B, "carol");
        Position(carol, "team").Should().Be((epoch, 2L));
        RelayTestClient again = await ConnectAsync(A, "alice");
        Position(again, "team").Should().Be((epoch, 2L));
        (await again.RequestAsync(Send("team", 3, id: "m3")).WaitAsync(Wait)).GetProperty("seq").GetInt64().Should().Be(3, "the numbering goes on in the same epoch");
        (await carol.ExpectAsync("message", timeout: Wait)).GetProperty("seq").GetInt64().Should().Be(3);
        (List<long> replayed, JsonElement result) = await HistoryAsync(carol, "team", after: 0);
        replayed.Should().Equal(1L, 2L, 3L);
        result.GetProperty("epoch").GetString().Should().Be(epoch);
        result.GetProperty("complete").GetBoolean().Should().BeTrue();
        (await carol.DrainAsync()).Should().NotContain(f => f.GetProperty("type").GetString() == "reset", "the stream never changed epoch");
        Upkeep(A).GroupStateCounts.Should().Be((1, 1, 1));
    }

    [Fact]
    public async Task DeadGroup_SweepsRacingJoinsAndSends_LoseAndDuplicateNothing()
    {
        const int Rounds = 25;
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        Group("team", "alice", "bob");
        await StartNodesAsync(clock: clock);
        RelayTestClient bob = await ConnectAsync(B, "bob");

        // Sweeps run back to back on both nodes while alice joins, sends and leaves node A over and over, and the clock
        // passes the grace after each round: node A drops the group's state between rounds and builds it again.
        bool stop = false;
        Task sweeping = Task.Run(async () =>
        {
            while (!Volatile.Read(ref stop))
            {
                Upkeep(A).Sweep();
                Upkeep(B).Sweep();
                await Task.Yield();
            }
        });

        var acked = new List<long>();
        int emptied = 0;
        try
        {
            for (int i = 0; i < Rounds; i++)
            {
                RelayTestClient alice = await ConnectAsync(A, "alice");
                JsonElement ack = await alice.RequestAsync(Send("team", i, id: "m" + i)).WaitAsync(Wait);
                ack.GetProperty("type").GetString().Should().Be("ack");
                acked.Add(ack.GetProperty("seq").GetInt64());
                List<JsonElement> frames = await alice.DrainAsync();
                frames.Count(f => f.GetProperty("type").GetString() == "message").Should().Be(1, $"round {i}: alice gets her echo once");
                await alice.CloseAsync();
                clock.Advance(GroupUpkeep.DropGrace + TimeSpan.FromSeconds(1));
                if (Upkeep(A).GroupStateCounts == (0, 0, 0))
                {
                    emptied++;
                }
            }
        }
        finally
        {
            Volatile.Write(ref stop, true);
            await sweeping;
        }

        acked.Should().Equal(Enumerable.Range(1, Rounds).Select(i => (long)i), "one stream, numbered without a gap");
        List<JsonElement> seen = await bob.CollectAsync("message", Rounds, Wait);
        seen.Select(m => m.GetProperty("seq").GetInt64()).Should().Equal(acked, "bob gets every message once, in order");
        (await bob.NextWithinAsync(QuietWindow, "message")).Should().BeNull("and nothing twice");
        (await bob.DrainAsync()).Should().NotContain(f => f.GetProperty("type").GetString() == "reset");
        emptied.Should().BeGreaterThan(0, "node A did drop the group's state between rounds");
    }

    private static GroupUpkeep Upkeep(RedisRelayNodeHost node) => node.Services.GetRequiredService<GroupUpkeep>();

    private static bool Subscribed(RedisRelayNodeHost node, string group) => node.Services.GetRequiredService<GroupSubscriptions>().IsSubscribed(group);

    private static (string Epoch, long Seq) Position(RelayTestClient client, string group)
    {
        JsonElement position = client.Welcome.GetProperty("positions").GetProperty(group);
        return (position.GetProperty("epoch").GetString()!, position.GetProperty("seq").GetInt64());
    }

    /// <summary>Waits (bounded) for something the server does after a client's close, which the client cannot observe.</summary>
    private static async Task EventuallyAsync(Func<bool> condition, string because)
    {
        DateTime deadline = DateTime.UtcNow + Wait;
        while (!condition())
        {
            DateTime.UtcNow.Should().BeBefore(deadline, because);
            await Task.Delay(10);
        }
    }

    private static async Task<(List<long> Replayed, JsonElement Result)> HistoryAsync(RelayTestClient client, string group, long after)
    {
        string id = "h" + Guid.NewGuid().ToString("N")[..8];
        await client.SendAsync(new Dictionary<string, object?> { ["type"] = "history", ["id"] = id, ["group"] = group, ["after"] = after });
        var replayed = new List<long>();
        while (true)
        {
            JsonElement frame = await client.ReceiveAsync(Wait);
            string? type = frame.GetProperty("type").GetString();
            if (type == "history" && frame.GetProperty("id").GetString() == id)
            {
                return (replayed, frame);
            }

            if (type == "message")
            {
                replayed.Add(frame.GetProperty("seq").GetInt64());
            }
        }
    }
}
