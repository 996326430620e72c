using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using FluentAssertions;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace GroupRelay.Specification.Tests;

/// <summary>PROTOCOL.md section 5 and the life of connections: graceful shutdown, and nothing left behind by disconnects.</summary>
public abstract partial class RelayProtocolSpecification
{
    [Fact]
    public async Task Shutdown_Graceful_EveryConnectedClientGets1001()
    {
        Group("team", "alice", "bob");
        await StartAsync();
        RelayTestClient[] clients =
        {
            await ConnectAsync("alice"),
            await ConnectAsync("alice"),
            await ConnectAsync("bob"),
            await ConnectAsync("loner"),
        };

        await Server.StopAsync().WaitAsync(Timeout + Timeout);

        foreach (RelayTestClient client in clients)
        {
            (await client.WaitForCloseAsync()).Should().Be(RelayCloseCodes.GoingAway, client.User);
        }
    }

    [Fact]
    public async Task ClientClose_IsAnsweredWithTheSameCode_AndTheUserGoesOffline()
    {
        await StartAsync();
        RelayTestClient alice = await ConnectAsync("alice");

        await alice.CloseAsync(System.Net.WebSockets.WebSocketCloseStatus.NormalClosure);

        (await alice.Closed.WaitAsync(Timeout)).Should().Be(System.Net.WebSockets.WebSocketCloseStatus.NormalClosure);
        (await EventuallyAsync(async () => !(await Server.Relay.GetPresenceAsync("alice")).IsOnline)).Should().BeTrue();
    }

    [Fact]
    public async Task ConnectDisconnectCycles_1000InParallel_LeaveTheOnlineListAndGroupIndexEmpty()
    {
        const int Cycles = 1000;
        const int Parallelism = 8;
        string[] groups = { "g0", "g1", "g2", "g3", "g4" };
        string[] users = Enumerable.Range(0, 24).Select(i => "cycler" + i).ToArray();
        for (int i = 0; i < users.Length; i++)
        {
            // Two or three groups each, overlapping, so joined/left events fly between the cyclers.
            Server.Membership.SetGroups(users[i], groups.Where((_, g) => (i + g) % 5 < 2 + (i % 2)).ToArray());
        }

        await StartAsync(o => o.RateLimitEnabled = false);
        int next = -1;

        async Task WorkerAsync()
        {
            for (int n = Interlocked.Increment(ref next); n < Cycles; n = Interlocked.Increment(ref next))
            {
                string user = users[n % users.Length];
                switch (n % 4)
                {
                    case 0:
                    {
                        // Closes cleanly after a round trip.
                        await using RelayTestClient client = await Server.ConnectAsync(user);
                        (await client.RequestAsync(Req("ping"))).GetProperty("type").GetString().Should().Be("pong");
                        await client.CloseAsync();
                        break;
                    }

                    case 1:
                    {
                        // Goes away without a close handshake.
                        await using RelayTestClient client = await Server.ConnectAsync(user);
                        client.Socket.Abort();
                        break;
                    }

                    case 2:
                    {
                        // Goes away before its welcome may even be queued: a join racing a disconnect.
                        await using RelayTestClient client = await Server.ConnectAsync(user, waitForWelcome: false);
                        client.Socket.Abort();
                        break;
                    }

                    default:
                    {
                        await using RelayTestClient client = await Server.ConnectAsync(user);
                        await client.CloseAsync();
                        break;
                    }
                }
            }
        }

        await Task.WhenAll(Enumerable.Range(0, Parallelism).Select(_ => Task.Run(WorkerAsync))).WaitAsync(TimeSpan.FromSeconds(120));

        InMemoryPresenceRegistry presence = Server.Services.GetRequiredService<InMemoryPresenceRegistry>();
        InMemoryGroupDirectory directory = Server.Services.GetRequiredService<InMemoryGroupDirectory>();
        bool empty = await EventuallyAsync(
            async () => presence.OnlineUserCount == 0 && directory.GroupCount == 0 && (await Server.Relay.GetOnlineUsersAsync()).Count == 0);
        empty.Should().BeTrue($"every connection closed, yet {presence.OnlineUserCount} users are online and {directory.GroupCount} groups indexed");
        directory.UserCount.Should().Be(0);
        foreach (string group in groups)
        {
            (await Server.Relay.GetOnlineMembersAsync(group).AsTask().WaitAsync(Timeout)).Should().BeEmpty();
        }
    }
}
