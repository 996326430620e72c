using System;
using System.Linq;
using System.Threading.Tasks;
using FluentAssertions;
using GroupRelay.Core.Tests.Infrastructure;
using GroupRelay.Internal;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace GroupRelay.Core.Tests;

/// <summary>
/// <see cref="GroupRelayOptions.PresenceGracePeriod"/> with an injected clock (no sleeps): a user who comes back within
/// it causes no left/joined and no offline/online events; one who does not is announced once, when it runs out.
/// </summary>
public sealed class PresenceGracePeriodTests
{
    private static readonly TimeSpan Grace = TimeSpan.FromSeconds(3);

    private static RelayTestHost Host(FakeTimeProvider clock, TimeSpan grace)
        => RelayTestHost.Create(o => { o.RateLimitEnabled = false; o.PresenceGracePeriod = grace; }, services: s => s.AddSingleton<TimeProvider>(clock));

    private static async Task<TestConnection> WatcherOfAliceAsync(RelayTestHost host)
    {
        TestConnection bob = await host.ConnectAsync("bob");
        await bob.RequestAsync("""{"type":"watch","id":"w","users":["alice"]}""", "w");
        return bob;
    }

    private static int Events(TestConnection watcher) => watcher.Socket.OfType("left").Count + watcher.Socket.OfType("joined").Count + watcher.Socket.OfType("presence").Count;

    [Fact]
    public async Task LastConnectionCloses_BackWithinTheGracePeriod_NoLeftJoinedNorPresenceEvents()
    {
        var clock = new FakeTimeProvider();
        await using RelayTestHost host = Host(clock, Grace);
        host.Group("team", "alice", "bob");
        TestConnection alice = await host.ConnectAsync("alice");
        TestConnection bob = await WatcherOfAliceAsync(host);
        await bob.SyncAsync();
        int before = Events(bob);

        await alice.DisposeAsync();
        (await host.Relay.GetPresenceAsync("alice")).IsOnline.Should().BeFalse("the user is out of the online list during the period");
        clock.Advance(Grace - TimeSpan.FromMilliseconds(1));
        TestConnection back = await host.ConnectAsync("alice");
        clock.Advance(Grace * 2);
        await bob.SyncAsync();

        Events(bob).Should().Be(before, "nobody was told alice left, so nobody is told she joined");
        host.Services.GetRequiredService<RelayLifecycle>().LeavingCount.Should().Be(0);
        (await host.Relay.GetPresenceAsync("alice")).IsOnline.Should().BeTrue();
        await back.DisposeAsync();
    }

    [Fact]
    public async Task LastConnectionCloses_GracePeriodRunsOut_LeftAndOfflineAreSentOnce()
    {
        var clock = new FakeTimeProvider();
        await using RelayTestHost host = Host(clock, Grace);
        host.Group("team", "alice", "bob");
        TestConnection alice = await host.ConnectAsync("alice");
        TestConnection bob = await WatcherOfAliceAsync(host);
        await bob.SyncAsync();
        int presenceBefore = bob.Socket.OfType("presence").Count;

        await alice.DisposeAsync();
        await bob.SyncAsync();
        bob.Socket.OfType("left").Should().BeEmpty("the events wait for the grace period");

        clock.Advance(Grace);
        await bob.Socket.WaitUntilAsync(s => s.OfType("left").Count == 1 && s.OfType("presence").Count == presenceBefore + 1, "left and offline after the grace period");
        Json.Str(bob.Socket.OfType("left").Single(), "group").Should().Be("team");
        bob.Socket.OfType("presence")[^1].GetProperty("online").GetBoolean().Should().BeFalse();
        clock.Advance(Grace * 3);
        await bob.SyncAsync();
        bob.Socket.OfType("left").Should().ContainSingle();
        host.Services.GetRequiredService<RelayLifecycle>().LeavingCount.Should().Be(0);
    }

    [Fact]
    public async Task BackWithOtherGroups_OnlyTheChangeIsAnnounced()
    {
        var clock = new FakeTimeProvider();
        await using RelayTestHost host = Host(clock, Grace);
        host.Membership.SetGroups("alice", "team", "old");
        host.Membership.SetGroups("bob", "team", "old", "new");
        TestConnection alice = await host.ConnectAsync("alice");
        TestConnection bob = await host.ConnectAsync("bob");
        await bob.SyncAsync();
        int joinedBefore = bob.Socket.OfType("joined").Count;

        await alice.DisposeAsync();
        host.Membership.SetGroups("alice", "team", "new");
        await host.ConnectAsync("alice");
        clock.Advance(Grace * 2);
        await bob.SyncAsync();

        bob.Socket.OfType("joined").Skip(joinedBefore).Select(f => Json.Str(f, "group")).Should().Equal("new");
        bob.Socket.OfType("left").Select(f => Json.Str(f, "group")).Should().Equal("old");
    }

    [Fact]
    public async Task GracePeriodOff_TheDefault_LeftIsSentAtOnce()
    {
        var clock = new FakeTimeProvider();
        await using RelayTestHost host = Host(clock, TimeSpan.Zero);
        host.Group("team", "alice", "bob");
        TestConnection alice = await host.ConnectAsync("alice");
        TestConnection bob = await host.ConnectAsync("bob");

        await alice.DisposeAsync();

        await bob.Socket.WaitUntilAsync(s => s.OfType("left").Count == 1, "left at once");
        new GroupRelayOptions().PresenceGracePeriod.Should().Be(TimeSpan.Zero);
    }
}
