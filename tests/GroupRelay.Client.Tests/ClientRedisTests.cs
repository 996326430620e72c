using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;
using FluentAssertions;
using GroupRelay.Client.Tests.Infrastructure;
using GroupRelay.Redis.Tests;
using StackExchange.Redis;
using Xunit;

namespace GroupRelay.Client.Tests;

/// <summary>The .NET client against two relay nodes on one real redis-server (started by the test on a free port).</summary>
public sealed class ClientRedisTests : IAsyncLifetime
{
    private static readonly TimeSpan Wait = RecordingClient.Wait;
    private readonly InMemoryMembershipSource _membership = new();
    private readonly List<IAsyncDisposable> _owned = new();
    private RedisServer _redis = null!;
    private KestrelRelayHost _a = null!;
    private KestrelRelayHost _b = null!;

    public async Task InitializeAsync()
    {
        _membership.SetGroups("alice", "team");
        _membership.SetGroups("bob", "team");
        _redis = await RedisServer.StartAsync();
        _a = new KestrelRelayHost(_membership, _redis.Endpoint, o => o.RateLimitEnabled = false);
        _b = new KestrelRelayHost(_membership, _redis.Endpoint, o => o.RateLimitEnabled = false);
        await _a.StartAsync();
        await _b.StartAsync();
    }

    public async Task DisposeAsync()
    {
        foreach (IAsyncDisposable owned in Enumerable.Reverse(_owned))
        {
            await owned.DisposeAsync();
        }

        await _a.DisposeAsync();
        await _b.DisposeAsync();
        await _redis.DisposeAsync();
    }

    private async Task<RecordingClient> ConnectAsync(string user, params Uri[] urls)
    {
        RecordingClient client = await RecordingClient.StartAsync(RecordingClient.OptionsFor(user, urls));
        _owned.Add(client);
        return client;
    }

    [Fact]
    public async Task TheClientsNodeStops_ItReconnectsToTheOtherUrl_AndResumesWithNothingLost()
    {
        RecordingClient bob = await ConnectAsync("bob", _a.RelayUri, _b.RelayUri);
        RecordingClient alice = await ConnectAsync("alice", _b.RelayUri);
        bob.Client.CurrentUrl!.Port.Should().Be(_a.Port);

        var acked = new List<long>();
        Task sending = Task.Run(async () =>
        {
            for (int i = 0; i < 150; i++)
            {
                acked.Add((await alice.Client.SendAsync("team", RecordingClient.Body(i)).WaitAsync(Wait)).Seq);
                await Task.Delay(5);
            }
        });
        await bob.WaitForMessagesAsync("team", 30);
        await _a.StopAsync();
        await sending.WaitAsync(Wait);

        await bob.WaitForMessagesAsync("team", 150);
        bob.Client.CurrentUrl!.Port.Should().Be(_b.Port, "node A is gone, so the client went to the next URL");
        bob.MessagesOf("team").Select(m => m.Seq).Should().Equal(acked, "every acknowledged message once, in seq order, across the node change");
        bob.MessagesOf("team").Select(m => m.Body.GetInt32()).Should().Equal(Enumerable.Range(0, 150));
        bob.Events<RelayUnrecoveredEventArgs>().Should().BeEmpty();
    }

    [Fact]
    public async Task RedisLosesTheStream_WhileConnected_TheClientRaisesReset_AndTheNewEpochFollows()
    {
        RecordingClient bob = await ConnectAsync("bob", _a.RelayUri);
        RecordingClient alice = await ConnectAsync("alice", _b.RelayUri);
        await alice.Client.SendAsync("team", RecordingClient.Body(1)).WaitAsync(Wait);
        await bob.WaitForMessagesAsync("team", 1);
        string oldEpoch = bob.MessagesOf("team")[0].Epoch;

        using (ConnectionMultiplexer admin = await ConnectionMultiplexer.ConnectAsync(new ConfigurationOptions { EndPoints = { _redis.Endpoint }, AllowAdmin = true }).WaitAsync(Wait))
        {
            await admin.GetServer(_redis.Endpoint).FlushAllDatabasesAsync().WaitAsync(Wait);
        }

        RelayAck ack = await alice.Client.SendAsync("team", RecordingClient.Body(2)).WaitAsync(Wait);
        ack.Seq.Should().Be(1, "the numbering restarts in a new epoch");
        await bob.WaitForMessagesAsync("team", 2);
        RelayStreamResetEventArgs reset = bob.Events<RelayStreamResetEventArgs>().Should().ContainSingle().Subject;
        reset.PreviousEpoch.Should().Be(oldEpoch);
        reset.Position.Epoch.Should().NotBe(oldEpoch);
        RelayMessage after = bob.MessagesOf("team")[1];
        after.Seq.Should().Be(1);
        after.Epoch.Should().Be(reset.Position.Epoch);
        bob.Events<RelayUnrecoveredEventArgs>().Should().BeEmpty("bob had every message of the old epoch");
    }
}
