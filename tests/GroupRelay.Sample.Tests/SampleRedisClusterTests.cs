using System;
using System.Text.Json;
using System.Threading.Tasks;
using FluentAssertions;
using GroupRelay.Redis.Tests;
using GroupRelay.Specification.Tests;
using Xunit;

namespace GroupRelay.Sample.Tests;

/// <summary>Two sample hosts started with the same --db and --redis form one cluster, as the README shows.</summary>
public sealed class SampleRedisClusterTests
{
    [Fact]
    public async Task TwoSampleHosts_SharingDatabaseAndRedis_LetAliceOnOneChatWithBobOnTheOther()
    {
        await using RedisServer redis = await RedisServer.StartAsync();
        string database = TempDatabase.NewPath();
        await using SampleServer node1 = await SampleServer.StartAsync(database, "--redis", redis.Endpoint);
        await using SampleServer node2 = await SampleServer.StartAsync(database, "--redis", redis.Endpoint);

        // A token issued by either node is accepted by both: alice logs in on node 2 and connects to node 1.
        string aliceToken = await node2.LoginAsync("alice");
        string bobToken = await node1.LoginAsync("bob");
        await using RelayTestClient alice = await RelayTestClient.ConnectAsync(new Uri(node1.RelayUri + "?access_token=" + Uri.EscapeDataString(aliceToken)), "alice");
        await using RelayTestClient bob = await RelayTestClient.ConnectAsync(new Uri(node2.RelayUri + "?access_token=" + Uri.EscapeDataString(bobToken)), "bob");

        JsonElement watch = await alice.RequestAsync(new() { ["type"] = "watch", ["users"] = new[] { "bob" } });
        watch.GetProperty("online")[0].GetProperty("user").GetString().Should().Be("bob", "presence is shared across the nodes");

        JsonElement ack = await alice.RequestAsync(new() { ["type"] = "send", ["group"] = "team", ["body"] = new { text = "hello from node 1" } });
        ack.GetProperty("type").GetString().Should().Be("ack");
        JsonElement atBob = await bob.ExpectAsync("message", m => m.GetProperty("from").GetString() == "alice");
        atBob.GetProperty("body").GetProperty("text").GetString().Should().Be("hello from node 1");
        atBob.GetProperty("seq").GetInt64().Should().Be(ack.GetProperty("seq").GetInt64());

        await bob.RequestAsync(new() { ["type"] = "send", ["group"] = "team", ["body"] = new { text = "hi from node 2" } });
        JsonElement atAlice = await alice.ExpectAsync("message", m => m.GetProperty("from").GetString() == "bob");
        atAlice.GetProperty("body").GetProperty("text").GetString().Should().Be("hi from node 2");
    }
}
