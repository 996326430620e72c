using System;
using System.Collections.Generic;
using System.IO;
using System.Threading.Tasks;
using FluentAssertions;
using GroupRelay.Core.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Xunit;

namespace GroupRelay.Core.Tests;

/// <summary><c>AddGroupRelay(IConfiguration)</c>: options from appsettings.json, validated at start like the others.</summary>
public sealed class ConfigurationBindingTests
{
    private static IHost BuildHost(string appsettingsJson, Action<GroupRelayOptions>? configure = null)
    {
        string file = Path.Combine(Path.GetTempPath(), $"grouprelay-{Guid.NewGuid():N}.json");
        File.WriteAllText(file, appsettingsJson);
        try
        {
            HostApplicationBuilder builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
            builder.Configuration.AddJsonFile(file);
            builder.Services.AddGroupRelay(builder.Configuration.GetSection("GroupRelay"), configure).AddMembershipSource(new InMemoryMembershipSource());
            return builder.Build();
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void AppSettings_EveryKindOfValue_IsBound()
    {
        using IHost host = BuildHost("""
            { "GroupRelay": { "MaxFrameBytes": 32768, "RateLimitEnabled": false, "RateLimitPerSecond": 12.5,
                              "PresenceGracePeriod": "00:00:03", "HistoryMessagesPerGroup": 0 } }
            """);

        GroupRelayOptions options = host.Services.GetRequiredService<IOptions<GroupRelayOptions>>().Value;

        options.MaxFrameBytes.Should().Be(32768);
        options.RateLimitEnabled.Should().BeFalse();
        options.RateLimitPerSecond.Should().Be(12.5);
        options.PresenceGracePeriod.Should().Be(TimeSpan.FromSeconds(3));
        options.HistoryMessagesPerGroup.Should().Be(0);
        options.MaxQueueBytes.Should().Be(new GroupRelayOptions().MaxQueueBytes, "keys that are not set keep their defaults");
    }

    [Fact]
    public void TheConfigureDelegate_RunsAfterBinding()
    {
        using IHost host = BuildHost("""{ "GroupRelay": { "MaxFrameBytes": 32768 } }""", o => o.MaxFrameBytes *= 2);

        host.Services.GetRequiredService<IOptions<GroupRelayOptions>>().Value.MaxFrameBytes.Should().Be(65536);
    }

    [Fact]
    public async Task AnOutOfRangeValue_FailsTheHostsStart_NamingTheOption()
    {
        using IHost host = BuildHost("""{ "GroupRelay": { "MaxFrameBytes": 0 } }""");

        Func<Task> start = () => host.StartAsync().WaitAsync(TestTimeouts.Default);

        (await start.Should().ThrowAsync<OptionsValidationException>()).Which.Message.Should().Contain("GroupRelayOptions.MaxFrameBytes");
    }

    [Fact]
    public async Task AMisspelledKey_FailsTheHostsStart_NamingIt()
    {
        using IHost host = BuildHost("""{ "GroupRelay": { "MaxFrameByte": 32768 } }""");

        Func<Task> start = () => host.StartAsync().WaitAsync(TestTimeouts.Default);

        (await start.Should().ThrowAsync<InvalidOperationException>()).Which.Message.Should().Contain("MaxFrameByte");
    }

    [Fact]
    public async Task TextWhereANumberBelongs_FailsTheHostsStart_NamingTheKey()
    {
        using IHost host = BuildHost("""{ "GroupRelay": { "MaxFrameBytes": "lots" } }""");

        Func<Task> start = () => host.StartAsync().WaitAsync(TestTimeouts.Default);

        (await start.Should().ThrowAsync<InvalidOperationException>()).Which.Message.Should().Contain("MaxFrameBytes");
    }
}
