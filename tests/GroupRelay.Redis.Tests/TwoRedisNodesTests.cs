using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;
using GroupRelay.Specification.Tests;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace GroupRelay.Redis.Tests;

/// <summary>
/// The fixture of the scale-out tests: a real redis-server of the test's own, two relay nodes (real Kestrel hosts)
/// started by the test with the options it needs, and clients that are closed at the end.
/// </summary>
public abstract class TwoRedisNodesTests : IAsyncLifetime
{
    protected static readonly TimeSpan QuietWindow = TimeSpan.FromMilliseconds(300);

    protected List<RelayTestClient> Clients { get; } = new();

    protected InMemoryMembershipSource Membership { get; } = new();

    protected RedisServer Server { get; private set; } = null!;

    protected RedisRelayNodeHost A { get; set; } = new();

    protected RedisRelayNodeHost B { get; set; } = new();

    public async Task InitializeAsync()
    {
        Server = await RedisServer.StartAsync();
    }

    public async Task DisposeAsync()
    {
        foreach (RelayTestClient client in Clients)
        {
            await client.DisposeAsync();
        }

        await A.DisposeAsync();
        await B.DisposeAsync();
        await Server.DisposeAsync();
    }

    /// <param name="configure">Relay options of both nodes.</param>
    /// <param name="configureRedis">Backplane options of both nodes.</param>
    /// <param name="clock">The relay clock of both nodes (a FakeTimeProvider lets a test move the dead-group sweep on), or null for the system's.</param>
    protected async Task StartNodesAsync(Action<GroupRelayOptions>? configure = null, Action<RedisRelayOptions>? configureRedis = null, TimeProvider? clock = null)
    {
        Func<IGroupRelayBuilder, IGroupRelayBuilder>? addLast = clock is null ? null : relay =>
        {
            relay.Services.AddSingleton(clock);
            return relay;
        };
        await A.StartAsync(Server.Endpoint, Membership, configure ?? (_ => { }), configureRedis, addLast);
        await B.StartAsync(Server.Endpoint, Membership, configure ?? (_ => { }), configureRedis, addLast);
    }

    protected void Group(string group, params string[] users)
    {
        foreach (string user in users)
        {
            string[] current = Membership.GetGroupsAsync(user).AsTask().Result.ToArray();
            Membership.SetGroups(user, current.Append(group).ToArray());
        }
    }

    protected async Task<RelayTestClient> ConnectAsync(RedisRelayNodeHost node, string user)
    {
        RelayTestClient client = await RelayTestClient.ConnectAsync(node.UriFor(user), user).WaitAsync(TimeSpan.FromSeconds(15));
        Clients.Add(client);
        return client;
    }

    protected static Dictionary<string, object?> Send(string group, object body, string? id = null)
    {
        var request = new Dictionary<string, object?> { ["type"] = "send", ["group"] = group, ["body"] = body };
        if (id is not null)
        {
            request["id"] = id;
        }

        return request;
    }
}
