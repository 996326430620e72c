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
    public async Task PublishAsync_BackplaneUnavailable_ThrowsGroupRelayException()
    {
        await using RelayTestHost host = RelayTestHost.Create(services: s => s.Replace(ServiceDescriptor.Singleton<IRelayBackplane, UnreachableBackplane>()));

        Func<Task> publish = () => host.Relay.PublishAsync("team", "\"hi\""u8.ToArray(), "system").AsTask();

        await publish.Should().ThrowAsync<GroupRelayException>();
    }

    /// <summary>A backplane whose store is away: positions answer, sends cannot be ordered.</summary>
    private sealed class UnreachableBackplane : IRelayBackplane
    {
        public ValueTask<PublishOutcome> PublishMessageAsync(string groupId, string from, ReadOnlyMemory<byte> body, bool bodyIsCompact, RelayConnection? sender, bool echo, string? idempotencyKey, CancellationToken cancellationToken = default)
            => new(new PublishOutcome(0) { Unavailable = true });

        public ValueTask<IReadOnlyList<StreamPosition>> GetPositionsAsync(IReadOnlyList<string> groupIds, CancellationToken cancellationToken = default)
            => new(groupIds.Select(_ => new StreamPosition("e1", 0)).ToList());

        public ValueTask<HistoryPage> ReadHistoryAsync(string groupId, long after, string? epoch, int limit, CancellationToken cancellationToken = default)
            => new(new HistoryPage(Array.Empty<ReadOnlyMemory<byte>>(), new StreamPosition("e1", 0), Complete: true));

        public void PublishMemberEvent(string groupId, string userId, bool joined)
        {
        }

        public void PublishPresence(string userId, bool online, string? status)
        {
        }

        public Task<bool> ChangeMembershipAsync(string userId, string groupId, bool add, CancellationToken cancellationToken = default) => Task.FromResult(false);
    }
}
