using System;
using System.Threading;
using System.Threading.Tasks;
using FluentAssertions;
using GroupRelay.Core.Tests.Infrastructure;
using GroupRelay.Transports;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Xunit;

namespace GroupRelay.Core.Tests;

/// <summary>A bad option fails the host at start-up with a message that names it, not at the first message.</summary>
public sealed class GroupRelayOptionsValidationTests
{
    private static IHost BuildHost(Action<GroupRelayOptions> configure, bool withMembershipSource = true)
    {
        HostApplicationBuilder builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        IGroupRelayBuilder relay = builder.Services.AddGroupRelay(configure);
        if (withMembershipSource)
        {
            relay.AddMembershipSource(new InMemoryMembershipSource());
        }

        return builder.Build();
    }

    /// <summary>Each case: a bad value, and the option name the failure must mention.</summary>
    public static TheoryData<string, string> BadValues => new()
    {
        { "MaxFrameBytes=0", "MaxFrameBytes" },
        { "MaxFrameBytes=255", "MaxFrameBytes" },
        { "MaxFrameBytes=16MiB+1", "MaxFrameBytes" },
        { "MaxQueueBytes=1023", "MaxQueueBytes" },
        { "MaxQueueFrames=0", "MaxQueueFrames" },
        { "MaxQueueFrames=1000001", "MaxQueueFrames" },
        { "RateLimitPerSecond=0", "RateLimitPerSecond" },
        { "RateLimitPerSecond=NaN", "RateLimitPerSecond" },
        { "RateLimitPerSecond=Infinity", "RateLimitPerSecond" },
        { "RateLimitBurst=0", "RateLimitBurst" },
        { "FloodRejectionsPerSecond=0", "FloodRejectionsPerSecond" },
        { "MaxIdLength=0", "MaxIdLength" },
        { "MaxIdLength=4097", "MaxIdLength" },
        { "MaxWatchPerRequest=0", "MaxWatchPerRequest" },
        { "MaxWatchedUsers=0", "MaxWatchedUsers" },
        { "MaxStatusLength=0", "MaxStatusLength" },
        { "MaxJsonDepth=1", "MaxJsonDepth" },
        { "MaxJsonDepth=1025", "MaxJsonDepth" },
        { "MembershipTimeout=0", "MembershipTimeout" },
        { "MembershipTimeout=Infinite", "MembershipTimeout" },
        { "MembershipTimeout=2h", "MembershipTimeout" },
        { "PresencePolicyTimeout=0", "PresencePolicyTimeout" },
        { "PresencePolicyTimeout=Infinite", "PresencePolicyTimeout" },
        { "PresencePolicyTimeout=2h", "PresencePolicyTimeout" },
        { "CloseTimeout=0", "CloseTimeout" },
        { "CloseTimeout=-1s", "CloseTimeout" },
        { "KeepAliveInterval=-1s", "KeepAliveInterval" },
        { "KeepAliveTimeout=-1s", "KeepAliveTimeout" },
        { "KeepAliveTimeout=Infinite", "KeepAliveTimeout" },
        { "KeepAliveTimeout=2h", "KeepAliveTimeout" },
        { "MaxWatchPerRequest>MaxWatchedUsers", "MaxWatchPerRequest" },
        { "MaxGroupsPerUser=0", "MaxGroupsPerUser" },
        { "MaxConnectionsPerUser=0", "MaxConnectionsPerUser" },
        { "MaxConnectionsPerAddress=0", "MaxConnectionsPerAddress" },
        { "MaxConnections=0", "MaxConnections" },
        { "PresenceGracePeriod=-1s", "PresenceGracePeriod" },
        { "PresenceGracePeriod=2h", "PresenceGracePeriod" },
        { "MessageFilterTimeout=0", "MessageFilterTimeout" },
        { "MessageFilterTimeout=Infinite", "MessageFilterTimeout" },
        { "MessageObserverQueueCapacity=0", "MessageObserverQueueCapacity" },
    };

    private static void Apply(string bad, GroupRelayOptions o)
    {
        switch (bad)
        {
            case "MaxFrameBytes=0": o.MaxFrameBytes = 0; break;
            case "MaxFrameBytes=255": o.MaxFrameBytes = 255; break;
            case "MaxFrameBytes=16MiB+1": o.MaxFrameBytes = (16 * 1024 * 1024) + 1; break;
            case "MaxQueueBytes=1023": o.MaxQueueBytes = 1023; break;
            case "MaxQueueFrames=0": o.MaxQueueFrames = 0; break;
            case "MaxQueueFrames=1000001": o.MaxQueueFrames = 1_000_001; break;
            case "RateLimitPerSecond=0": o.RateLimitPerSecond = 0; break;
            case "RateLimitPerSecond=NaN": o.RateLimitPerSecond = double.NaN; break;
            case "RateLimitPerSecond=Infinity": o.RateLimitPerSecond = double.PositiveInfinity; break;
            case "RateLimitBurst=0": o.RateLimitBurst = 0; break;
            case "FloodRejectionsPerSecond=0": o.FloodRejectionsPerSecond = 0; break;
            case "MaxIdLength=0": o.MaxIdLength = 0; break;
            case "MaxIdLength=4097": o.MaxIdLength = 4097; break;
            case "MaxWatchPerRequest=0": o.MaxWatchPerRequest = 0; break;
            case "MaxWatchedUsers=0": o.MaxWatchedUsers = 0; break;
            case "MaxStatusLength=0": o.MaxStatusLength = 0; break;
            case "MaxJsonDepth=1": o.MaxJsonDepth = 1; break;
            case "MaxJsonDepth=1025": o.MaxJsonDepth = 1025; break;
            case "MembershipTimeout=0": o.MembershipTimeout = TimeSpan.Zero; break;
            case "MembershipTimeout=Infinite": o.MembershipTimeout = Timeout.InfiniteTimeSpan; break;
            case "MembershipTimeout=2h": o.MembershipTimeout = TimeSpan.FromHours(2); break;
            case "PresencePolicyTimeout=0": o.PresencePolicyTimeout = TimeSpan.Zero; break;
            case "PresencePolicyTimeout=Infinite": o.PresencePolicyTimeout = Timeout.InfiniteTimeSpan; break;
            case "PresencePolicyTimeout=2h": o.PresencePolicyTimeout = TimeSpan.FromHours(2); break;
            case "CloseTimeout=0": o.CloseTimeout = TimeSpan.Zero; break;
            case "CloseTimeout=-1s": o.CloseTimeout = TimeSpan.FromSeconds(-1); break;
            case "KeepAliveInterval=-1s": o.KeepAliveInterval = TimeSpan.FromSeconds(-1); break;
            case "KeepAliveTimeout=-1s": o.KeepAliveTimeout = TimeSpan.FromSeconds(-1); break;
            case "KeepAliveTimeout=Infinite": o.KeepAliveTimeout = Timeout.InfiniteTimeSpan; break;
            case "KeepAliveTimeout=2h": o.KeepAliveTimeout = TimeSpan.FromHours(2); break;
            case "MaxGroupsPerUser=0": o.MaxGroupsPerUser = 0; break;
            case "MaxConnectionsPerUser=0": o.MaxConnectionsPerUser = 0; break;
            case "MaxConnectionsPerAddress=0": o.MaxConnectionsPerAddress = 0; break;
            case "MaxConnections=0": o.MaxConnections = 0; break;
            case "PresenceGracePeriod=-1s": o.PresenceGracePeriod = TimeSpan.FromSeconds(-1); break;
            case "PresenceGracePeriod=2h": o.PresenceGracePeriod = TimeSpan.FromHours(2); break;
            case "MessageFilterTimeout=0": o.MessageFilterTimeout = TimeSpan.Zero; break;
            case "MessageFilterTimeout=Infinite": o.MessageFilterTimeout = Timeout.InfiniteTimeSpan; break;
            case "MessageObserverQueueCapacity=0": o.MessageObserverQueueCapacity = 0; break;
            case "MaxWatchPerRequest>MaxWatchedUsers":
                o.MaxWatchPerRequest = 2000;
                o.MaxWatchedUsers = 1000;
                break;
            default: throw new ArgumentOutOfRangeException(nameof(bad), bad, null);
        }
    }

    [Theory]
    [MemberData(nameof(BadValues))]
    public async Task StartHost_BadOption_FailsNamingTheOption(string bad, string option)
    {
        using IHost host = BuildHost(o => Apply(bad, o));

        Func<Task> start = () => host.StartAsync().WaitAsync(TestTimeouts.Default);

        (await start.Should().ThrowAsync<OptionsValidationException>())
            .Which.Message.Should().Contain("GroupRelayOptions." + option);
    }

    [Theory]
    [MemberData(nameof(BadValues))]
    public void ResolveOptions_BadOption_OptionsValidationExceptionNamingTheOption(string bad, string option)
    {
        var services = new ServiceCollection();
        services.AddGroupRelay(o => Apply(bad, o)).AddMembershipSource(new InMemoryMembershipSource());
        using ServiceProvider provider = services.BuildServiceProvider();

        Action resolve = () => _ = provider.GetRequiredService<IOptions<GroupRelayOptions>>().Value;

        resolve.Should().Throw<OptionsValidationException>().Which.Message.Should().Contain("GroupRelayOptions." + option);
        FluentActions.Invoking(() => provider.GetRequiredService<RelayConnectionHandler>()).Should().Throw<OptionsValidationException>();
    }

    [Fact]
    public void Validate_SeveralBadOptions_ReportsEveryOne()
    {
        var services = new ServiceCollection();
        services.AddGroupRelay(o =>
        {
            o.MaxFrameBytes = 1;
            o.MaxQueueFrames = 0;
            o.MaxJsonDepth = 0;
        }).AddMembershipSource(new InMemoryMembershipSource());
        using ServiceProvider provider = services.BuildServiceProvider();

        OptionsValidationException error = FluentActions.Invoking(() => provider.GetRequiredService<IOptions<GroupRelayOptions>>().Value)
            .Should().Throw<OptionsValidationException>().Which;

        error.Failures.Should().HaveCount(3);
        error.Message.Should().Contain("GroupRelayOptions.MaxFrameBytes").And.Contain("GroupRelayOptions.MaxQueueFrames").And.Contain("GroupRelayOptions.MaxJsonDepth");
    }

    [Fact]
    public async Task StartHost_DefaultsAndBoundaryValues_Starts()
    {
        using IHost host = BuildHost(o =>
        {
            o.MaxFrameBytes = 256;
            o.MaxQueueBytes = 1024;
            o.MaxQueueFrames = 1;
            o.MaxJsonDepth = 2;
            o.KeepAliveInterval = TimeSpan.Zero;
            o.KeepAliveTimeout = TimeSpan.Zero;
            o.MaxWatchPerRequest = 5;
            o.MaxWatchedUsers = 5;
        });

        await host.StartAsync().WaitAsync(TestTimeouts.Default);
        await host.StopAsync().WaitAsync(TestTimeouts.Default);
    }

    [Fact]
    public async Task StartHost_RateLimitDisabled_RateLimitValuesAreNotChecked()
    {
        using IHost host = BuildHost(o =>
        {
            o.RateLimitEnabled = false;
            o.RateLimitPerSecond = 0;
            o.RateLimitBurst = 0;
            o.FloodRejectionsPerSecond = 0;
        });

        await host.StartAsync().WaitAsync(TestTimeouts.Default);
        await host.StopAsync().WaitAsync(TestTimeouts.Default);
    }

    [Fact]
    public async Task StartHost_NoMembershipSource_GroupRelayExceptionSayingToCallAddMembershipSource()
    {
        using IHost host = BuildHost(_ => { }, withMembershipSource: false);

        Func<Task> start = () => host.StartAsync().WaitAsync(TestTimeouts.Default);

        (await start.Should().ThrowAsync<GroupRelayException>())
            .Which.Message.Should().Contain("IMembershipSource").And.Contain("AddMembershipSource");
    }

    [Fact]
    public void ResolveHandler_NoMembershipSource_GroupRelayException()
    {
        var services = new ServiceCollection();
        services.AddGroupRelay();
        using ServiceProvider provider = services.BuildServiceProvider();

        FluentActions.Invoking(() => provider.GetRequiredService<RelayConnectionHandler>())
            .Should().Throw<GroupRelayException>().WithMessage("*AddMembershipSource*");
    }

    [Fact]
    public async Task StopHost_OpenConnections_ClosedWith1001()
    {
        using IHost host = BuildHost(o => o.CloseTimeout = TimeSpan.FromSeconds(2));
        await host.StartAsync().WaitAsync(TestTimeouts.Default);
        RelayConnectionHandler handler = host.Services.GetRequiredService<RelayConnectionHandler>();
        var socket = new FakeRelaySocket();
        RelaySession session = await handler.AcceptAsync("alice", socket).WaitAsync(TestTimeouts.Default);
        await socket.WaitForFrameAsync("welcome");

        await host.StopAsync().WaitAsync(TestTimeouts.Default);

        socket.CloseCode.Should().Be(RelayCloseCodes.GoingAway);
        await session.DisposeAsync().AsTask().WaitAsync(TestTimeouts.Default);
    }
}
