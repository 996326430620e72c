using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using FluentAssertions;
using GroupRelay.Core.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Xunit;

namespace GroupRelay.Core.Tests;

/// <summary>The relay over host-supplied implementations of its abstractions: failures and asynchronous completion.</summary>
public sealed class RelayExtensibilityTests
{
    private sealed class ThrowingPolicy : IPresencePolicy
    {
        public ValueTask<IReadOnlySet<string>> GetAllowedAsync(string watcherUserId, IReadOnlyCollection<string> targetUserIds, CancellationToken cancellationToken = default)
            => throw new InvalidOperationException("secret connection string in here");
    }

    /// <summary>The in-memory directory behind calls that always complete asynchronously, like a remote store's.</summary>
    private sealed class AsyncGroupDirectory : IGroupDirectory
    {
        private readonly InMemoryGroupDirectory _inner = new();

        public async ValueTask<bool> AddMemberAsync(string groupId, string userId, CancellationToken cancellationToken = default)
        {
            await Task.Yield();
            return await _inner.AddMemberAsync(groupId, userId, cancellationToken);
        }

        public async ValueTask<bool> RemoveMemberAsync(string groupId, string userId, CancellationToken cancellationToken = default)
        {
            await Task.Yield();
            return await _inner.RemoveMemberAsync(groupId, userId, cancellationToken);
        }

        public async ValueTask<IReadOnlyCollection<string>> RemoveUserAsync(string userId, CancellationToken cancellationToken = default)
        {
            await Task.Yield();
            return await _inner.RemoveUserAsync(userId, cancellationToken);
        }

        public async ValueTask<IReadOnlyCollection<string>> GetGroupsAsync(string userId, CancellationToken cancellationToken = default)
        {
            await Task.Yield();
            return await _inner.GetGroupsAsync(userId, cancellationToken);
        }

        public async ValueTask<IReadOnlyList<string>> GetMembersAsync(string groupId, CancellationToken cancellationToken = default)
        {
            await Task.Yield();
            return await _inner.GetMembersAsync(groupId, cancellationToken);
        }

        public async ValueTask<bool> IsMemberAsync(string groupId, string userId, CancellationToken cancellationToken = default)
        {
            await Task.Yield();
            return await _inner.IsMemberAsync(groupId, userId, cancellationToken);
        }

        public int GroupCount => _inner.GroupCount;
    }

    [Fact]
    public async Task Watch_PolicyThrows_InternalErrorWithoutDetailsAndConnectionStaysOpen()
    {
        await using RelayTestHost host = RelayTestHost.Create(services: s => s.Replace(ServiceDescriptor.Singleton<IPresencePolicy, ThrowingPolicy>()));
        TestConnection alice = await host.ConnectAsync("alice");

        JsonElement error = await alice.RequestAsync("""{"type":"watch","id":"w","users":["bob"]}""", "w");

        Json.Str(error, "code").Should().Be("internal");
        Json.Str(error, "message").Should().NotContain("secret");
        await alice.SyncAsync();
        alice.Session.IsClosing.Should().BeFalse();
    }

    [Fact]
    public async Task Route_DirectoryCompletesAsynchronously_SameBehaviour()
    {
        var directory = new AsyncGroupDirectory();
        await using RelayTestHost host = RelayTestHost.Create(services: s => s.Replace(ServiceDescriptor.Singleton<IGroupDirectory>(directory)));
        host.Group("team", "alice", "bob");
        TestConnection bob = await host.ConnectAsync("bob");
        TestConnection alice = await host.ConnectAsync("alice");
        await bob.Socket.WaitForFrameAsync("joined");

        Json.Long(await alice.RequestAsync("""{"type":"send","id":"m1","group":"team","body":1}""", "m1"), "seq").Should().Be(1);
        Json.Str(await alice.RequestAsync("""{"type":"send","id":"m2","group":"ops","body":1}""", "m2"), "code").Should().Be("not_member");
        await bob.SyncAsync();
        bob.Messages().Should().ContainSingle();

        await alice.DisposeAsync();
        await bob.Socket.WaitForFrameAsync("left");
        await bob.DisposeAsync();
        directory.GroupCount.Should().Be(0);
    }
}
