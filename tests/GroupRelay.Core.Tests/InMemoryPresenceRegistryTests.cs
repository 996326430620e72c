using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using FluentAssertions;
using GroupRelay.Core.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;

namespace GroupRelay.Core.Tests;

public sealed class InMemoryPresenceRegistryTests
{
    private const int Tasks = 8;
    private const int OpsPerTask = 10_000;
    private static int s_nextId;

    private static RelayConnection NewConnection(string user)
        => new("t-" + Interlocked.Increment(ref s_nextId), user, new FakeRelaySocket(), new GroupRelayOptions(), NullLogger.Instance);

    [Fact]
    public async Task AddConnection_FirstAndSecond_OnlyFirstComesOnline()
    {
        var registry = new InMemoryPresenceRegistry();
        RelayConnection c1 = NewConnection("alice");
        RelayConnection c2 = NewConnection("alice");

        (await registry.AddConnectionAsync(c1)).Should().BeTrue();
        (await registry.AddConnectionAsync(c2)).Should().BeFalse();

        registry.OnlineUserCount.Should().Be(1);
        registry.GetLocalConnections("alice").Should().BeEquivalentTo(new[] { c1, c2 });
        (await registry.GetStateAsync("alice")).Should().Be(new PresenceState(true, null));
        (await registry.GetOnlineUsersAsync()).Should().Equal("alice");
    }

    [Fact]
    public async Task RemoveConnection_Last_GoesOfflineAndForgetsStatus()
    {
        var registry = new InMemoryPresenceRegistry();
        RelayConnection c1 = NewConnection("alice");
        RelayConnection c2 = NewConnection("alice");
        await registry.AddConnectionAsync(c1);
        await registry.AddConnectionAsync(c2);
        (await registry.SetStatusAsync("alice", "away")).Should().BeTrue();

        (await registry.RemoveConnectionAsync(c1)).Should().BeFalse();
        (await registry.GetStateAsync("alice")).Should().Be(new PresenceState(true, "away"));
        (await registry.RemoveConnectionAsync(c2)).Should().BeTrue();

        (await registry.GetStateAsync("alice")).Should().Be(PresenceState.Offline);
        registry.GetLocalConnections("alice").Should().BeEmpty();
        registry.OnlineUserCount.Should().Be(0);

        // Back online: the old status is gone.
        await registry.AddConnectionAsync(c1);
        (await registry.GetStateAsync("alice")).Should().Be(new PresenceState(true, null));
    }

    [Fact]
    public async Task SetStatus_OfflineUser_ReturnsFalseAndChangesNothing()
    {
        var registry = new InMemoryPresenceRegistry();

        (await registry.SetStatusAsync("ghost", "away")).Should().BeFalse();

        (await registry.GetStateAsync("ghost")).Should().Be(PresenceState.Offline);
        registry.OnlineUserCount.Should().Be(0);
    }

    [Fact]
    public async Task AddRemove_ManyUsersConcurrently_FirstLastFlagsAreExactAndNothingIsLeft()
    {
        var registry = new InMemoryPresenceRegistry();
        var failures = new List<string>();

        // Each task owns a few users (the relay serialises the calls of one user); readers of every user run beside.
        Task[] workers = Enumerable.Range(0, Tasks).Select(t => Task.Run(async () =>
        {
            var random = new Random(3000 + t);
            string[] users = Enumerable.Range(0, 3).Select(i => $"u{t}-{i}").ToArray();
            var open = users.ToDictionary(u => u, _ => new List<RelayConnection>());
            for (int i = 0; i < OpsPerTask; i++)
            {
                string user = users[random.Next(users.Length)];
                List<RelayConnection> mine = open[user];
                if (mine.Count == 0 || random.Next(2) == 0)
                {
                    RelayConnection connection = NewConnection(user);
                    bool first = await registry.AddConnectionAsync(connection);
                    Check(first == (mine.Count == 0), $"{user}: AddConnection first={first} with {mine.Count} open");
                    mine.Add(connection);
                    Check(registry.GetLocalConnections(user).Contains(connection), $"{user}: snapshot lacks a connection added before it");
                    Check((await registry.GetStateAsync(user)).IsOnline, $"{user}: offline with an open connection");
                }
                else
                {
                    RelayConnection connection = mine[random.Next(mine.Count)];
                    mine.Remove(connection);
                    bool last = await registry.RemoveConnectionAsync(connection);
                    Check(last == (mine.Count == 0), $"{user}: RemoveConnection last={last} with {mine.Count} left");
                    Check(!registry.GetLocalConnections(user).Contains(connection), $"{user}: snapshot holds a connection removed before it");
                    Check((await registry.GetStateAsync(user)).IsOnline == (mine.Count > 0), $"{user}: state disagrees");
                }

                // Look at someone else's user too: reads never block or fail while others write.
                string other = $"u{random.Next(Tasks)}-{random.Next(3)}";
                _ = registry.GetLocalConnections(other).Count;
            }

            foreach ((string _, List<RelayConnection> connections) in open)
            {
                foreach (RelayConnection connection in connections)
                {
                    await registry.RemoveConnectionAsync(connection);
                }
            }
        })).ToArray();

        await Task.WhenAll(workers).WaitAsync(TestTimeouts.Default * 6);

        failures.Should().BeEmpty();
        registry.OnlineUserCount.Should().Be(0);
        (await registry.GetOnlineUsersAsync()).Should().BeEmpty();

        void Check(bool condition, string message)
        {
            if (!condition)
            {
                lock (failures)
                {
                    failures.Add(message);
                }
            }
        }
    }
}
