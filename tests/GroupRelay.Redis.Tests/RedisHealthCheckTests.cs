using System;
using System.Threading.Tasks;
using FluentAssertions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Xunit;

namespace GroupRelay.Redis.Tests;

/// <summary>
/// <c>AddHealthChecks().AddGroupRelay()</c> with the Redis backplane (issue 14 §4): the backplane's connection shows in
/// the relay's health, so a probe takes a node whose Redis is gone out of rotation.
/// </summary>
public sealed class RedisHealthCheckTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private static async Task<HealthReportEntry> CheckAsync(RedisRelayNodeHost node)
        => (await node.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync().WaitAsync(Timeout)).Entries["grouprelay"];

    [Fact]
    public async Task RedisConnected_IsHealthy_RedisGone_IsUnhealthy_ThenHealthyAgainOnceItIsBack()
    {
        await using RedisServer redis = await RedisServer.StartAsync();
        await using var node = new RedisRelayNodeHost();
        await node.StartAsync(redis.Endpoint, new InMemoryMembershipSource(), _ => { }, addLast: relay =>
        {
            relay.Services.AddHealthChecks().AddGroupRelay();
            return relay;
        });

        HealthReportEntry connected = await CheckAsync(node);
        connected.Status.Should().Be(HealthStatus.Healthy);
        connected.Data["backplane.connected"].Should().Be(true);

        await redis.KillAsync();
        HealthReportEntry gone = connected;
        for (DateTime deadline = DateTime.UtcNow + Timeout; DateTime.UtcNow < deadline && gone.Status != HealthStatus.Unhealthy; await Task.Delay(100))
        {
            gone = await CheckAsync(node);
        }

        gone.Status.Should().Be(HealthStatus.Unhealthy);
        gone.Description.Should().Contain("Redis is unreachable");
        gone.Data["backplane.connected"].Should().Be(false);

        await redis.StartAgainAsync();
        HealthReportEntry back = gone;
        for (DateTime deadline = DateTime.UtcNow + Timeout; DateTime.UtcNow < deadline && back.Status != HealthStatus.Healthy; await Task.Delay(100))
        {
            back = await CheckAsync(node);
        }

        back.Status.Should().Be(HealthStatus.Healthy, "once reconnected and resynced");
    }
}
