using System;
using System.Collections.Generic;
using FluentAssertions;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Xunit;

namespace GroupRelay.Redis.Tests;

/// <summary><c>AddRedis(IConfiguration)</c>: the connection string and the options from one configuration section.</summary>
public sealed class RedisConfigurationBindingTests
{
    private static IConfigurationSection Section(Dictionary<string, string?> values)
        => new ConfigurationBuilder().AddInMemoryCollection(values).Build().GetSection("GroupRelay:Redis");

    [Fact]
    public void TheSection_GivesTheConnectionStringAndTheOptions_ThenTheDelegateRuns()
    {
        var services = new ServiceCollection();
        services.AddGroupRelay().AddMembershipSource(new InMemoryMembershipSource())
            .AddRedis(Section(new() { ["GroupRelay:Redis:ConnectionString"] = "127.0.0.1:6390,password=secret", ["GroupRelay:Redis:Prefix"] = "chat", ["GroupRelay:Redis:HeartbeatInterval"] = "00:00:02", ["GroupRelay:Redis:NodeTimeout"] = "00:00:10" }), o => o.EchoTimeout = TimeSpan.FromSeconds(3));
        using ServiceProvider provider = services.BuildServiceProvider();

        RedisRelayOptions options = provider.GetRequiredService<IOptions<RedisRelayOptions>>().Value;

        options.Prefix.Should().Be("chat");
        options.HeartbeatInterval.Should().Be(TimeSpan.FromSeconds(2));
        options.NodeTimeout.Should().Be(TimeSpan.FromSeconds(10));
        options.EchoTimeout.Should().Be(TimeSpan.FromSeconds(3));
        options.Configuration!.EndPoints.Should().ContainSingle().Which.ToString().Should().Contain("6390");
    }

    [Fact]
    public void NoConnectionString_OrAKeyThatIsNotAnOption_FailsNamingIt()
    {
        IGroupRelayBuilder relay = new ServiceCollection().AddGroupRelay();

        Action missing = () => relay.AddRedis(Section(new() { ["GroupRelay:Redis:Prefix"] = "chat" }));
        Action misspelled = () => relay.AddRedis(Section(new() { ["GroupRelay:Redis:ConnectionString"] = "localhost", ["GroupRelay:Redis:Prefx"] = "chat" }));

        missing.Should().Throw<GroupRelayException>().WithMessage("*GroupRelay:Redis*ConnectionString*");
        misspelled.Should().Throw<GroupRelayException>().WithMessage("*Prefx*");
    }
}
