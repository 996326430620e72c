using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using FluentAssertions;
using GroupRelay.Core.Tests.Infrastructure;
using GroupRelay.ScaleOut;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Xunit;

namespace GroupRelay.Core.Tests;

/// <summary>
/// A backplane that cannot order a message (PublishOutcome.Unavailable) gets the client the error <c>unavailable</c>
/// (PROTOCOL.md section 4), and the host a <see cref="GroupRelayException"/>; nothing is delivered.
/// </summary>
public sealed class UnavailableBackplaneTests
{
    [Fact]
    public async Task Send_BackplaneUnavailable_IsErrorUnavailable_WithTheId_AndDeliversNothing()
    {
        await using RelayTestHost host = RelayTestHost.Create(services: s => s.Replace(ServiceDescriptor.Singleton<IRelayBackplane, UnreachableBackplane>()));
        host.Group("team", "alice", "bob");
        TestConnection alice = await host.ConnectAsync("alice");
        TestConnection bob = await host.ConnectAsync("bob");

        JsonElement reply = await alice.RequestAsync("""{"type":"send","id":"m1","group":"team","body":"hi"}""", "m1");

        Json.Type(reply).Should().Be("error");
        Json.Str(reply, "code").Should().Be(RelayErrorCodes.Unavailable).And.Be("unavailable");
        await alice.SyncAsync();
        await bob.SyncAsync();
        alice.Messages().Should().BeEmpty();
        bob.Messages().Should().BeEmpty("nothing was delivered; the client retries with the same id");
    }

    [Fact]
    public async Task History_BackplaneUnavailable_IsErrorUnavailable_WithTheId_AndReplaysNothing()
    {
        await using RelayTestHost host = RelayTestHost.Create(services: s => s.Replace(ServiceDescriptor.Singleton<IRelayBackplane, UnreachableBackplane>()));
        host.Group("team", "alice");
        TestConnection alice = await host.ConnectAsync("alice");

        JsonElement reply = await alice.RequestAsync("""{"type":"history","id":"h1","group":"team","after":0}""", "h1");

        Json.Type(reply).Should().Be("error", "a position the backplane cannot vouch for is no answer");
        Json.Str(reply, "code").Should().Be("unavailable");
        await alice.SyncAsync();
        alice.Messages().Should().BeEmpty("nothing is replayed");
    }

    [Fact]
    public async Task Send_OutcomeUnknown_IsErrorUnavailable_SayingItMayHaveBeenDelivered()
    {
        await using RelayTestHost host = RelayTestHost.Create(services: s => s.Replace(ServiceDescriptor.Singleton<IRelayBackplane>(new UnreachableBackplane(unknown: true))));
        host.Group("team", "alice");
        TestConnection alice = await host.ConnectAsync("alice");

        JsonElement reply = await alice.RequestAsync("""{"type":"send","id":"m1","group":"team","body":"hi"}""", "m1");

        Json.Str(reply, "code").Should().Be("unavailable");
        Json.Str(reply, "message").Should().Contain("may have been delivered").And.Contain("same id");
        Func<Task> publish = () => host.Relay.PublishAsync("team", "\"hi\""u8.ToArray(), "system").AsTask();
        (await publish.Should().ThrowAsync<GroupRelayException>()).Which.Message.Should().Contain("may have been delivered");
    }

    [Fact]
    public async Task PublishAsync_BackplaneUnavailable_ThrowsGroupRelayException()
    {
        await using RelayTestHost host = RelayTestHost.Create(services: s => s.Replace(ServiceDescriptor.Singleton<IRelayBackplane, UnreachableBackplane>()));

        Func<Task> publish = () => host.Relay.PublishAsync("team", "\"hi\""u8.ToArray(), "system").AsTask();

        await publish.Should().ThrowAsync<GroupRelayException>();
    }

    /// <summary>A backplane whose store is away: positions answer, sends cannot be ordered (or their outcome is unknown), history cannot be read.</summary>
    private sealed class UnreachableBackplane(bool unknown) : IRelayBackplane
    {
        public UnreachableBackplane()
            : this(false)
        {
        }

        public ValueTask<PublishOutcome> PublishMessageAsync(string groupId, string from, ReadOnlyMemory<byte> body, bool bodyIsCompact, RelayConnection? sender, bool echo, string? idempotencyKey, CancellationToken cancellationToken = default)
            => new(new PublishOutcome(0) { Unavailable = true, OutcomeUnknown = unknown });

        public ValueTask<IReadOnlyList<StreamPosition>> GetPositionsAsync(IReadOnlyList<string> groupIds, CancellationToken cancellationToken = default)
            => new(groupIds.Select(_ => new StreamPosition("e1", 0)).ToList());

        public ValueTask<HistoryPage> ReadHistoryAsync(string groupId, long after, string? epoch, int limit, CancellationToken cancellationToken = default)
            => new(new HistoryPage(Array.Empty<ReadOnlyMemory<byte>>(), default, Complete: false) { Unavailable = true });

        public void PublishMemberEvent(string groupId, string userId, bool joined)
        {
        }

        public void PublishPresence(string userId, bool online, string? status)
        {
        }

        public Task<bool> ChangeMembershipAsync(string userId, string groupId, bool add, CancellationToken cancellationToken = default) => Task.FromResult(false);
    }
}
