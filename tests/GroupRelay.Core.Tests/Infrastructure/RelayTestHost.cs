using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using GroupRelay.Transports;
using Microsoft.Extensions.DependencyInjection;

namespace GroupRelay.Core.Tests.Infrastructure;

/// <summary>
/// The relay as a transport sees it, built from a ServiceCollection the way a host builds it
/// (<c>AddLogging</c>, <c>AddMetrics</c>, <c>AddGroupRelay(...).AddMembershipSource(...)</c>), driven through
/// <see cref="RelayConnectionHandler"/> with <see cref="FakeRelaySocket"/>s. Nothing is listening anywhere.
/// </summary>
internal sealed class RelayTestHost : IAsyncDisposable
{
    private readonly List<TestConnection> _connections = new();
    private int _sockets;

    private RelayTestHost(ServiceProvider services, InMemoryMembershipSource membership)
    {
        Services = services;
        Membership = membership;
        Handler = services.GetRequiredService<RelayConnectionHandler>();
    }

    public ServiceProvider Services { get; }

    public InMemoryMembershipSource Membership { get; }

    public RelayConnectionHandler Handler { get; }

    public IGroupRelay Relay => Services.GetRequiredService<IGroupRelay>();

    public InMemoryGroupDirectory Directory => Services.GetRequiredService<InMemoryGroupDirectory>();

    public InMemoryPresenceRegistry Presence => Services.GetRequiredService<InMemoryPresenceRegistry>();

    /// <summary>Builds a relay; <paramref name="membership"/> replaces the in-memory source when given.</summary>
    public static RelayTestHost Create(Action<GroupRelayOptions>? configure = null, IMembershipSource? membership = null, Action<IServiceCollection>? services = null)
    {
        var inMemory = new InMemoryMembershipSource();
        var collection = new ServiceCollection();
        collection.AddLogging();
        collection.AddMetrics();
        collection.AddGroupRelay(configure ?? (_ => { })).AddMembershipSource(membership ?? inMemory);
        services?.Invoke(collection);
        return new RelayTestHost(collection.BuildServiceProvider(new ServiceProviderOptions { ValidateScopes = true }), inMemory);
    }

    /// <summary>Adds <paramref name="group"/> to the groups of each user in the membership source.</summary>
    public void Group(string group, params string[] users)
    {
        foreach (string user in users)
        {
            IReadOnlyCollection<string> current = Membership.GetGroupsAsync(user).AsTask().GetAwaiter().GetResult();
            Membership.SetGroups(user, current.Append(group).ToArray());
        }
    }

    /// <summary>Accepts a connection for <paramref name="user"/> on a new fake socket and (by default) waits for its welcome.</summary>
    public async Task<TestConnection> ConnectAsync(string user, bool waitForWelcome = true, FakeRelaySocket? socket = null)
    {
        socket ??= new FakeRelaySocket($"{user}#{Interlocked.Increment(ref _sockets)}");
        RelaySession session = await Handler.AcceptAsync(user, socket).WaitAsync(TestTimeouts.Default);
        var connection = new TestConnection(user, session, socket);
        lock (_connections)
        {
            _connections.Add(connection);
        }

        if (waitForWelcome)
        {
            await socket.WaitForFrameAsync("welcome");
        }

        return connection;
    }

    public async ValueTask DisposeAsync()
    {
        TestConnection[] connections;
        lock (_connections)
        {
            connections = _connections.ToArray();
        }

        foreach (TestConnection connection in connections)
        {
            await connection.DisposeAsync();
        }

        await Services.DisposeAsync().AsTask().WaitAsync(TestTimeouts.Default);
    }
}
