using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.Json;
using System.Threading.Tasks;
using FluentAssertions;
using GroupRelay.Internal;
using GroupRelay.Specification.Tests;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;
using Xunit;

namespace GroupRelay.Redis.Tests;

/// <summary>
/// A group's stream keys in Redis (epoch, seq, retained messages) expire together after <c>StreamExpiry</c> (issue 12,
/// item 2): every use pushes the expiry back, and so does every node holding an online member, on its heartbeat, so an
/// idle group with members online keeps its epoch however long nobody writes, and only a group nobody is online in and
/// nobody writes to loses its keys; its next message then starts a new epoch. Redis's expiry runs on real time: these
/// tests use a 3 s expiry (with a 1 s history age and idempotency window; 2 s is the least it may then be) and wait at most a
/// few seconds.
/// </summary>
public sealed class RedisStreamExpiryTests : TwoRedisNodesTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan Expiry = TimeSpan.FromSeconds(3);

    [Fact]
    public async Task StreamKeys_AllGetTheExpiry_InTheSameStep()
    {
        Group("team", "alice");
        await StartShortLivedAsync();
        RelayTestClient alice = await ConnectAsync(A, "alice");
        await alice.RequestAsync(Send("team", 1, id: "m1")).WaitAsync(Wait);

        // Read in one step (a refresh by the heartbeat may come between two separate reads): each key's expiry time
        // and Redis's clock.
        using ConnectionMultiplexer admin = await AdminAsync();
        var read = (RedisResult[])(await admin.GetDatabase().ScriptEvaluateAsync(
            "local t = redis.call('TIME') return {redis.call('PEXPIRETIME', KEYS[1]), redis.call('PEXPIRETIME', KEYS[2]), redis.call('PEXPIRETIME', KEYS[3]), t[1] * 1000 + math.floor(t[2] / 1000)}",
            StreamKeys("team")).WaitAsync(Wait))!;
        long[] expiresAt = read.Take(3).Select(r => (long)r).ToArray();
        long now = (long)read[3];
        foreach (long at in expiresAt)
        {
            at.Should().BePositive("every stream key expires");
            TimeSpan.FromMilliseconds(at - now).Should().BeLessThanOrEqualTo(Expiry).And.BeGreaterThan(TimeSpan.FromMilliseconds(500));
        }

        (expiresAt.Max() - expiresAt.Min()).Should().BeLessThan(10, "one script sets the three expiries, microseconds apart");
    }

    [Fact]
    public async Task IdleGroup_WithAMemberOnline_KeepsItsEpoch_LongerThanTheExpiry()
    {
        Group("team", "alice", "bob", "carol");
        await StartShortLivedAsync();
        RelayTestClient alice = await ConnectAsync(A, "alice");
        RelayTestClient bob = await ConnectAsync(B, "bob");
        (string epoch, _) = Position(bob, "team");
        (await alice.RequestAsync(Send("team", "first", id: "m1")).WaitAsync(Wait)).GetProperty("seq").GetInt64().Should().Be(1);
        await bob.ExpectAsync("message", timeout: Wait);
        await alice.CloseAsync();

        // Nobody writes for more than the expiry; only bob, on node B, is online: B's heartbeat keeps the keys.
        await Task.Delay(Expiry + Expiry / 2 + TimeSpan.FromMilliseconds(500));
        using (ConnectionMultiplexer admin = await AdminAsync())
        {
            ((string?)await admin.GetDatabase().StringGetAsync(StreamKeys("team")[1]).WaitAsync(Wait)).Should().Be(epoch, "the epoch key is still there");
        }

        RelayTestClient carol = await ConnectAsync(A, "carol");
        Position(carol, "team").Should().Be((epoch, 1L), "the same epoch and seq, on the other node too");
        (await carol.RequestAsync(Send("team", "second", id: "m2")).WaitAsync(Wait)).GetProperty("seq").GetInt64().Should().Be(2, "the numbering goes on");
        (await bob.ExpectAsync("message", timeout: Wait)).GetProperty("seq").GetInt64().Should().Be(2);
        (await bob.DrainAsync()).Should().NotContain(f => f.GetProperty("type").GetString() == "reset", "no false reset for an idle group with a member online");
    }

    [Fact]
    public async Task DeadGroup_KeysExpire_ThenTheNextMessageStartsANewEpochCleanly()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        Group("team", "alice", "bob");
        await StartShortLivedAsync(clock);
        RelayTestClient alice = await ConnectAsync(A, "alice");
        RelayTestClient bob = await ConnectAsync(B, "bob");
        (string old, _) = Position(alice, "team");
        await alice.RequestAsync(Send("team", 1, id: "m1")).WaitAsync(Wait);
        await alice.RequestAsync(Send("team", 2, id: "m2")).WaitAsync(Wait);
        await bob.CollectAsync("message", 2, Wait);
        await alice.CloseAsync();
        await bob.CloseAsync();

        // Nobody online, nobody writing: the keys expire (all of them), and the nodes drop what they held of the group.
        using ConnectionMultiplexer admin = await AdminAsync();
        IDatabase db = admin.GetDatabase();
        DateTime deadline = DateTime.UtcNow + Expiry * 3;
        while (await db.KeyExistsAsync(StreamKeys("team")).WaitAsync(Wait) > 0)
        {
            DateTime.UtcNow.Should().BeBefore(deadline, "a dead group's keys expire after StreamExpiry");
            await Task.Delay(100);
        }

        clock.Advance(GroupUpkeep.DropGrace + GroupUpkeep.SweepInterval);
        A.Services.GetRequiredService<GroupUpkeep>().GroupStateCounts.Should().Be((0, 0, 0));
        B.Services.GetRequiredService<GroupUpkeep>().GroupStateCounts.Should().Be((0, 0, 0));

        // A message with nobody online (the host's) starts the new epoch at seq 1; the members who come back see it.
        (await A.Relay.PublishAsync("team", "\"from the host\""u8.ToArray(), "system").AsTask().WaitAsync(Wait)).Should().Be(1, "the numbering restarts");
        string fresh = (string)(await db.StringGetAsync(StreamKeys("team")[1]).WaitAsync(Wait))!;
        fresh.Should().NotBe(old, "a new epoch");
        RelayTestClient bobAgain = await ConnectAsync(B, "bob");
        RelayTestClient aliceAgain = await ConnectAsync(A, "alice");
        Position(bobAgain, "team").Should().Be((fresh, 1L));
        Position(aliceAgain, "team").Should().Be((fresh, 1L));
        (await aliceAgain.RequestAsync(Send("team", 3, id: "m3")).WaitAsync(Wait)).GetProperty("seq").GetInt64().Should().Be(2);
        JsonElement live = await bobAgain.ExpectAsync("message", timeout: Wait);
        live.GetProperty("seq").GetInt64().Should().Be(2);
        (await bobAgain.DrainAsync()).Should().NotContain(f => f.GetProperty("type").GetString() == "reset", "the welcome already named the new epoch: nothing to reset");
        (await aliceAgain.DrainAsync()).Should().NotContain(f => f.GetProperty("type").GetString() == "reset");

        // The old epoch's history is gone (not complete); the new one replays from seq 1.
        JsonElement oldHistory = await bobAgain.RequestAsync(new Dictionary<string, object?> { ["type"] = "history", ["group"] = "team", ["after"] = 2, ["epoch"] = old }).WaitAsync(Wait);
        oldHistory.GetProperty("complete").GetBoolean().Should().BeFalse();
        oldHistory.GetProperty("epoch").GetString().Should().Be(fresh);
    }

    /// <summary>Both nodes with a 3 s stream expiry (the validator allows 2 s with a 1 s history age and idempotency window).</summary>
    private Task StartShortLivedAsync(TimeProvider? clock = null)
        => StartNodesAsync(
            o =>
            {
                o.HistoryMaxAge = TimeSpan.FromSeconds(1);
                o.IdempotencyWindow = TimeSpan.FromSeconds(1);
            },
            redis => redis.StreamExpiry = Expiry,
            clock);

    private static RedisKey[] StreamKeys(string group)
    {
        var keys = new RedisKeys("grouprelay", "test", Expiry);
        return [keys.Seq(group), keys.Epoch(group), keys.Stream(group)];
    }

    private async Task<ConnectionMultiplexer> AdminAsync()
        => await ConnectionMultiplexer.ConnectAsync(new ConfigurationOptions { EndPoints = { Server.Endpoint } }).WaitAsync(Wait);

    private static (string Epoch, long Seq) Position(RelayTestClient client, string group)
    {
        JsonElement position = client.Welcome.GetProperty("positions").GetProperty(group);
        return (position.GetProperty("epoch").GetString()!, position.GetProperty("seq").GetInt64());
    }
}
