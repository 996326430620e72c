using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.Json;
using System.Threading.Tasks;
using FluentAssertions;
using GroupRelay.Internal;
using GroupRelay.Specification.Tests;
using StackExchange.Redis;
using Xunit;

namespace GroupRelay.Redis.Tests;

/// <summary>
/// <c>history</c> through Redis (PROTOCOL.md section 3): each group's messages are retained in a Redis Stream by the
/// publish script, and any node replays them as the very bytes that were delivered live on every node.
/// </summary>
public sealed class RedisHistoryTests : TwoRedisNodesTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task History_OnEitherNode_ReplaysTheBytesDeliveredLiveOnBothNodes()
    {
        Group("team", "alice", "bob", "carol");
        await StartNodesAsync();
        RelayTestClient alice = await ConnectAsync(A, "alice");
        RelayTestClient bob = await ConnectAsync(B, "bob");

        // Bodies that are not compact JSON (spaces, escapes, non-ASCII) are compacted into the frame: the replay must be
        // compacted the same way, and carry the same ts, sender and seq.
        string[] bodies = ["{ \"text\" : \"h\\u00e9llo\", \"n\" : [1, 2,  3] }", "\"caf\u00e9 \\\"quoted\\\"\"", "42"];
        for (int i = 0; i < bodies.Length; i++)
        {
            await alice.SendTextAsync("{\"type\":\"send\",\"id\":\"m" + i + "\",\"group\":\"team\",\"body\":" + bodies[i] + "}");
            await alice.ExpectAsync("ack", timeout: Wait);
        }

        List<string> liveOnB = (await bob.CollectAsync("message", 3, Wait)).Select(m => m.GetRawText()).ToList();
        List<string> liveOnA = alice.TakeSkipped().Where(f => f.GetProperty("type").GetString() == "message").Select(m => m.GetRawText()).ToList();
        liveOnA.Should().Equal(liveOnB, "one message is written alike on every node");

        RelayTestClient carolA = await ConnectAsync(A, "carol");
        RelayTestClient carolB = await ConnectAsync(B, "carol");
        (List<string> replayA, JsonElement resultA) = await HistoryAsync(carolA, "team", 0);
        (List<string> replayB, JsonElement resultB) = await HistoryAsync(carolB, "team", 0);

        replayA.Should().Equal(liveOnB, "node A replays the bytes node B delivered");
        replayB.Should().Equal(liveOnB, "node B replays them too");
        resultA.GetProperty("complete").GetBoolean().Should().BeTrue();
        resultB.GetProperty("seq").GetInt64().Should().Be(3);
    }

    [Fact]
    public async Task History_AfterRedisLostTheStream_OldEpochIsIncomplete_AndTheNewStreamStartsEmpty()
    {
        Group("team", "alice", "bob");
        await StartNodesAsync();
        RelayTestClient alice = await ConnectAsync(A, "alice");
        RelayTestClient bob = await ConnectAsync(B, "bob");
        await alice.RequestAsync(Send("team", 1)).WaitAsync(Wait);
        await alice.RequestAsync(Send("team", 2)).WaitAsync(Wait);
        await bob.CollectAsync("message", 2, Wait);
        string oldEpoch = bob.Welcome.GetProperty("positions").GetProperty("team").GetProperty("epoch").GetString()!;

        using (ConnectionMultiplexer admin = await ConnectionMultiplexer.ConnectAsync(new ConfigurationOptions { EndPoints = { Server.Endpoint }, AllowAdmin = true }).WaitAsync(Wait))
        {
            await admin.GetServer(Server.Endpoint).FlushAllDatabasesAsync().WaitAsync(Wait);
        }

        JsonElement ack = await alice.RequestAsync(Send("team", "after the flush")).WaitAsync(Wait);
        ack.GetProperty("seq").GetInt64().Should().Be(1, "the numbering restarts under a new epoch");
        await bob.ExpectAsync("reset", timeout: Wait);
        (await bob.ExpectAsync("message", timeout: Wait)).GetProperty("seq").GetInt64().Should().Be(1, "live, after the reset");

        (List<string> old, JsonElement oldResult) = await HistoryAsync(bob, "team", 2, oldEpoch);
        old.Should().BeEmpty();
        oldResult.GetProperty("complete").GetBoolean().Should().BeFalse("the old epoch's messages are gone");
        oldResult.GetProperty("epoch").GetString().Should().NotBe(oldEpoch);

        (List<string> current, JsonElement currentResult) = await HistoryAsync(bob, "team", 0);
        current.Select(f => JsonDocument.Parse(f).RootElement.GetProperty("seq").GetInt64()).Should().Equal(1L);
        currentResult.GetProperty("complete").GetBoolean().Should().BeTrue("the new stream holds its one message and nothing older");
    }

    [Fact]
    public async Task Stream_IsCappedAndExpires_AndTheReadSkipsEntriesOlderThanTheAge()
    {
        Group("team", "alice");
        await StartNodesAsync(o => { o.HistoryMessagesPerGroup = 5; o.HistoryMaxAge = TimeSpan.FromMinutes(3); });
        RelayTestClient alice = await ConnectAsync(A, "alice");
        for (int i = 0; i < 8; i++)
        {
            await alice.RequestAsync(Send("team", i)).WaitAsync(Wait);
        }

        var keys = new RedisKeys("grouprelay", "test", TimeSpan.FromMinutes(8));
        using ConnectionMultiplexer admin = await ConnectionMultiplexer.ConnectAsync(new ConfigurationOptions { EndPoints = { Server.Endpoint } }).WaitAsync(Wait);
        IDatabase db = admin.GetDatabase();
        foreach (RedisKey key in new[] { keys.Stream("team"), keys.Seq("team"), keys.Epoch("team") })
        {
            TimeSpan? ttl = await db.KeyTimeToLiveAsync(key).WaitAsync(Wait);
            ttl.Should().NotBeNull().And.BeGreaterThan(TimeSpan.FromMinutes(7)).And.BeLessThanOrEqualTo(TimeSpan.FromMinutes(8), $"{key}: an idle group's stream keys expire together, by default the age (3 min, above the 2 min idempotency window) plus 5 minutes after its last use");
        }

        StreamEntry[] entries = await db.StreamRangeAsync(keys.Stream("team")).WaitAsync(Wait);
        entries.Select(e => (string)e.Id!).Should().EndWith(["6-0", "7-0", "8-0"], "entries are keyed by seq, in seq order");

        long now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        RedisResult[] fresh = await ReadAsync(db, keys, oldest: now - 60_000);
        fresh.Skip(3).Where((_, i) => i % 2 == 0).Select(r => (long)r).Should().Equal([4L, 5L, 6L, 7L, 8L], "exactly the latest HistoryMessagesPerGroup, whatever MAXLEN ~ left");
        RedisResult[] aged = await ReadAsync(db, keys, oldest: now + 60_000);
        aged.Length.Should().Be(3, "entries older than the age are not replayed");
    }

    private static async Task<RedisResult[]> ReadAsync(IDatabase db, RedisKeys keys, long oldest)
        => (RedisResult[])(await db.ScriptEvaluateAsync(
            RedisScripts.ReadHistory,
            new[] { keys.Seq("team"), keys.Epoch("team"), keys.Stream("team") },
            new RedisValue[] { "candidate", keys.StreamExpiryMilliseconds, 0, 100, 5, oldest, string.Empty }).WaitAsync(Wait))!;

    private static async Task<(List<string> Replayed, JsonElement Result)> HistoryAsync(RelayTestClient client, string group, long after, string? epoch = null)
    {
        string id = "h" + Guid.NewGuid().ToString("N")[..8];
        var request = new Dictionary<string, object?> { ["type"] = "history", ["id"] = id, ["group"] = group, ["after"] = after };
        if (epoch is not null)
        {
            request["epoch"] = epoch;
        }

        await client.SendAsync(request);
        var replayed = new List<string>();
        while (true)
        {
            JsonElement frame = await client.ReceiveAsync(Wait);
            string? type = frame.GetProperty("type").GetString();
            if (type == "history" && frame.GetProperty("id").GetString() == id)
            {
                return (replayed, frame);
            }

            if (type == "message" && frame.GetProperty("group").GetString() == group)
            {
                replayed.Add(frame.GetRawText());
            }
        }
    }
}
