using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using FluentAssertions;
using GroupRelay.Core.Tests.Infrastructure;
using GroupRelay.Transports;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Xunit;

namespace GroupRelay.Core.Tests;

public sealed class GroupRelayServiceCollectionExtensionsTests
{
    private sealed class TeamSource : IMembershipSource
    {
        public ValueTask<IReadOnlyCollection<string>> GetGroupsAsync(string userId, CancellationToken cancellationToken = default) => new(new[] { "from-typed" });

        public ValueTask<IReadOnlyCollection<string>> GetContactsAsync(string userId, CancellationToken cancellationToken = default) => new(Array.Empty<string>());
    }

    private sealed class AllowEveryone : IPresencePolicy
    {
        public ValueTask<IReadOnlySet<string>> GetAllowedAsync(string watcherUserId, IReadOnlyCollection<string> targetUserIds, CancellationToken cancellationToken = default)
            => new(targetUserIds.ToHashSet(StringComparer.Ordinal));
    }

    private static InMemoryMembershipSource SourceWithGroup(string group)
    {
        var source = new InMemoryMembershipSource();
        source.SetGroups("alice", group);
        return source;
    }

    private static async Task<string[]> WelcomeGroupsAsync(IServiceCollection services)
    {
        services.AddLogging();
        await using ServiceProvider provider = services.BuildServiceProvider();
        var socket = new FakeRelaySocket();
        RelaySession session = await provider.GetRequiredService<RelayConnectionHandler>().AcceptAsync("alice", socket).WaitAsync(TestTimeouts.Default);
        var welcome = await socket.WaitForFrameAsync("welcome");
        await session.DisposeAsync().AsTask().WaitAsync(TestTimeouts.Default);
        return welcome.GetProperty("groups").EnumerateArray().Select(g => g.GetString()!).ToArray();
    }

    [Fact]
    public async Task AddMembershipSource_InstanceThenInstance_SecondReplacesFirst()
    {
        var services = new ServiceCollection();
        services.AddGroupRelay().AddMembershipSource(SourceWithGroup("first")).AddMembershipSource(SourceWithGroup("second"));

        services.Count(d => d.ServiceType == typeof(IMembershipSource)).Should().Be(1);
        (await WelcomeGroupsAsync(services)).Should().Equal("second");
    }

    [Fact]
    public async Task AddMembershipSource_TypedThenFactory_FactoryReplacesTyped()
    {
        var services = new ServiceCollection();
        services.AddGroupRelay().AddMembershipSource<TeamSource>().AddMembershipSource(_ => SourceWithGroup("from-factory"));

        services.Count(d => d.ServiceType == typeof(IMembershipSource)).Should().Be(1);
        (await WelcomeGroupsAsync(services)).Should().Equal("from-factory");
    }

    [Fact]
    public async Task AddMembershipSource_InstanceThenTyped_TypedReplacesInstance()
    {
        var services = new ServiceCollection();
        services.AddGroupRelay().AddMembershipSource(SourceWithGroup("from-instance")).AddMembershipSource<TeamSource>();

        services.Count(d => d.ServiceType == typeof(IMembershipSource)).Should().Be(1);
        (await WelcomeGroupsAsync(services)).Should().Equal("from-typed");
    }

    [Fact]
    public async Task AddMembershipSource_RegisteredBeforeAddGroupRelay_IsReplacedToo()
    {
        var services = new ServiceCollection();
        services.AddSingleton<IMembershipSource>(SourceWithGroup("host-registered"));
        services.AddGroupRelay().AddMembershipSource(SourceWithGroup("relay-registered"));

        services.Count(d => d.ServiceType == typeof(IMembershipSource)).Should().Be(1);
        (await WelcomeGroupsAsync(services)).Should().Equal("relay-registered");
    }

    [Fact]
    public void AddMembershipSource_NullArguments_Throw()
    {
        IGroupRelayBuilder builder = new ServiceCollection().AddGroupRelay();

        FluentActions.Invoking(() => builder.AddMembershipSource((IMembershipSource)null!)).Should().Throw<ArgumentNullException>();
        FluentActions.Invoking(() => builder.AddMembershipSource((Func<IServiceProvider, IMembershipSource>)null!)).Should().Throw<ArgumentNullException>();
        FluentActions.Invoking(() => ((IGroupRelayBuilder)null!).AddMembershipSource<TeamSource>()).Should().Throw<ArgumentNullException>();
        FluentActions.Invoking(() => ((IServiceCollection)null!).AddGroupRelay()).Should().Throw<ArgumentNullException>();
        FluentActions.Invoking(() => new ServiceCollection().AddGroupRelay(null!)).Should().Throw<ArgumentNullException>();
    }

    [Fact]
    public void AddGroupRelay_CalledTwice_RegistersEachServiceOnce()
    {
        var services = new ServiceCollection();
        IGroupRelayBuilder builder = services.AddGroupRelay();
        services.AddGroupRelay();

        builder.Services.Should().BeSameAs(services);
        services.Count(d => d.ServiceType == typeof(IHostedService)).Should().Be(1);
        services.Count(d => d.ServiceType == typeof(IGroupRelay)).Should().Be(1);
        services.Count(d => d.ServiceType == typeof(RelayConnectionHandler)).Should().Be(1);
        services.Count(d => d.ServiceType == typeof(IGroupDirectory)).Should().Be(1);
        services.Count(d => d.ServiceType == typeof(IPresenceRegistry)).Should().Be(1);
    }

    [Fact]
    public void AddGroupRelay_Resolved_StoresAndHandlerAreSingletons()
    {
        var services = new ServiceCollection();
        services.AddGroupRelay().AddMembershipSource(new InMemoryMembershipSource());
        using ServiceProvider provider = services.BuildServiceProvider();

        provider.GetRequiredService<IGroupDirectory>().Should().BeSameAs(provider.GetRequiredService<InMemoryGroupDirectory>());
        provider.GetRequiredService<IPresenceRegistry>().Should().BeSameAs(provider.GetRequiredService<InMemoryPresenceRegistry>());
        provider.GetRequiredService<RelayConnectionHandler>().Should().BeSameAs(provider.GetRequiredService<RelayConnectionHandler>());
    }

    [Fact]
    public async Task AddPresencePolicy_Custom_DecidesWhoMayBeWatched()
    {
        await using RelayTestHost host = RelayTestHost.Create(services: s => new GroupRelayBuilderStub(s).AddPresencePolicy<AllowEveryone>());
        TestConnection alice = await host.ConnectAsync("alice");

        var result = await alice.RequestAsync("""{"type":"watch","id":"w","users":["stranger"]}""", "w");

        result.GetProperty("forbidden").GetArrayLength().Should().Be(0);
        result.GetProperty("offline").EnumerateArray().Select(e => e.GetString()).Should().Equal("stranger");
    }

    [Fact]
    public async Task DefaultPresencePolicy_StrangerWithNoSharedGroup_Forbidden()
    {
        await using RelayTestHost host = RelayTestHost.Create();
        host.Group("team", "alice", "bob");
        host.Group("other", "stranger");
        TestConnection alice = await host.ConnectAsync("alice");
        await host.ConnectAsync("stranger");

        var result = await alice.RequestAsync("""{"type":"watch","id":"w","users":["bob","stranger","alice"]}""", "w");

        result.GetProperty("forbidden").EnumerateArray().Select(e => e.GetString()).Should().Equal("stranger");
        result.GetProperty("offline").EnumerateArray().Select(e => e.GetString()).Should().Equal("bob");
        result.GetProperty("online").EnumerateArray().Select(e => e.GetProperty("user").GetString()).Should().Equal("alice");
    }

    private sealed class GroupRelayBuilderStub : IGroupRelayBuilder
    {
        public GroupRelayBuilderStub(IServiceCollection services) => Services = services;

        public IServiceCollection Services { get; }
    }
}
