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

    /// <summary>Stores that hand out lists rather than arrays, like most host-written ones (the router special-cases arrays).</summary>
    private sealed class ListGroupDirectory : IGroupDirectory
    {
        private readonly InMemoryGroupDirectory _inner = new();

        public ValueTask<bool> AddMemberAsync(string groupId, string userId, CancellationToken cancellationToken = default) => _inner.AddMemberAsync(groupId, userId, cancellationToken);

        public ValueTask<bool> RemoveMemberAsync(string groupId, string userId, CancellationToken cancellationToken = default) => _inner.RemoveMemberAsync(groupId, userId, cancellationToken);

        public ValueTask<IReadOnlyCollection<string>> RemoveUserAsync(string userId, CancellationToken cancellationToken = default) => _inner.RemoveUserAsync(userId, cancellationToken);

        public ValueTask<IReadOnlyCollection<string>> GetGroupsAsync(string userId, CancellationToken cancellationToken = default) => _inner.GetGroupsAsync(userId, cancellationToken);

        public async ValueTask<IReadOnlyList<string>> GetMembersAsync(string groupId, CancellationToken cancellationToken = default)
            => (await _inner.GetMembersAsync(groupId, cancellationToken)).ToList();

        public ValueTask<bool> IsMemberAsync(string groupId, string userId, CancellationToken cancellationToken = default) => _inner.IsMemberAsync(groupId, userId, cancellationToken);
    }

    private sealed class ListPresenceRegistry : IPresenceRegistry
    {
        private readonly InMemoryPresenceRegistry _inner = new();

        public ValueTask<bool> AddConnectionAsync(RelayConnection connection, CancellationToken cancellationToken = default) => _inner.AddConnectionAsync(connection, cancellationToken);

        public ValueTask<bool> RemoveConnectionAsync(RelayConnection connection, CancellationToken cancellationToken = default) => _inner.RemoveConnectionAsync(connection, cancellationToken);

        public IReadOnlyList<RelayConnection> GetLocalConnections(string userId) => _inner.GetLocalConnections(userId).ToList();

        public ValueTask<PresenceState> GetStateAsync(string userId, CancellationToken cancellationToken = default) => _inner.GetStateAsync(userId, cancellationToken);

        public ValueTask<bool> SetStatusAsync(string userId, string? status, CancellationToken cancellationToken = default) => _inner.SetStatusAsync(userId, status, cancellationToken);

        public ValueTask<IReadOnlyCollection<string>> GetOnlineUsersAsync(CancellationToken cancellationToken = default) => _inner.GetOnlineUsersAsync(cancellationToken);
    }

    [Fact]
    public async Task Route_StoresReturnListsNotArrays_EveryConnectionGetsItOnceAndNoEchoIsHonoured()
    {
        await using RelayTestHost host = RelayTestHost.Create(services: s => s
            .Replace(ServiceDescriptor.Singleton<IGroupDirectory>(new ListGroupDirectory()))
            .Replace(ServiceDescriptor.Singleton<IPresenceRegistry>(new ListPresenceRegistry())));
        host.Group("team", "alice", "bob");
        TestConnection bob1 = await host.ConnectAsync("bob");
        TestConnection bob2 = await host.ConnectAsync("bob");
        TestConnection alice1 = await host.ConnectAsync("alice");
        TestConnection alice2 = await host.ConnectAsync("alice");

        await alice1.RequestAsync("""{"type":"send","id":"m1","group":"team","body":1,"echo":false}""", "m1");
        foreach (TestConnection c in new[] { bob1, bob2, alice1, alice2 })
        {
            await c.SyncAsync();
        }

        bob1.Messages("team").Should().ContainSingle();
        bob2.Messages("team").Should().ContainSingle();
        alice2.Messages("team").Should().ContainSingle("the sender's other connection still gets it");
        alice1.Messages("team").Should().BeEmpty("echo:false leaves out the sending connection only");
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
