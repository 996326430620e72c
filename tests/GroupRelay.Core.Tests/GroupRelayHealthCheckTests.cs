using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using FluentAssertions;
using GroupRelay.Core.Tests.Infrastructure;
using GroupRelay.Internal;
using GroupRelay.ScaleOut;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Xunit;

namespace GroupRelay.Core.Tests;

/// <summary><c>services.AddHealthChecks().AddGroupRelay()</c>: the states a host's <c>/healthz</c> reports, and why.</summary>
public sealed class GroupRelayHealthCheckTests
{
    private static async Task<HealthReportEntry> CheckAsync(RelayTestHost host)
    {
        HealthReport report = await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync().WaitAsync(TestTimeouts.Default);
        return report.Entries["grouprelay"];
    }

    private static RelayTestHost Host(Action<GroupRelayOptions>? configure = null, Action<IServiceCollection>? services = null)
        => RelayTestHost.Create(configure, services: s =>
        {
            s.AddHealthChecks().AddGroupRelay();
            services?.Invoke(s);
        });

    [Fact]
    public async Task ServingConnections_IsHealthy_WithConnectionsAndQueueDataAndTheInProcessBackplane()
    {
        await using RelayTestHost host = Host();
        host.Group("team", "alice", "bob");
        await host.ConnectAsync("alice");
        await host.ConnectAsync("bob");

        HealthReportEntry entry = await CheckAsync(host);

        entry.Status.Should().Be(HealthStatus.Healthy);
        entry.Data["connections"].Should().Be(2);
        entry.Data["connections_behind"].Should().Be(0);
        entry.Data["backplane"].Should().Be("Healthy");
        entry.Data["backplane_description"].Should().Be("in process");
    }

    [Fact]
    public async Task SlowConsumers_AtLeastATenthOfTheConnectionsBehindTheirQueueBound_IsDegraded()
    {
        await using RelayTestHost host = Host(o => { o.RateLimitEnabled = false; o.MaxQueueFrames = 3; o.SlowConsumerTimeout = TimeSpan.FromMinutes(5); });
        host.Group("team", "alice", "bob");
        TestConnection alice = await host.ConnectAsync("alice");
        TestConnection bob = await host.ConnectAsync("bob");
        bob.Socket.HoldSends();

        // One message first, and wait until bob's writer is blocked in its (held) send of it: otherwise a writer that
        // wakes late takes every frame sent meanwhile into that one send and nothing waits behind it. Then send until
        // more than three wait; the loop stops at once, well before four times the bound (which would close bob).
        await alice.SendAsync("""{"type":"send","group":"team","echo":false,"body":0}""");
        await bob.Socket.WaitForSendsStartedAsync(2);
        for (int i = 1; i < 11 && host.Services.GetRequiredService<RelayLifecycle>().QueuePressure().Behind == 0; i++)
        {
            await alice.SendAsync($$"""{"type":"send","group":"team","echo":false,"body":{{i}}}""");
        }

        HealthReportEntry entry = await CheckAsync(host);

        string seen = $"{entry.Status}: {entry.Description}; " + string.Join(", ", entry.Data.Select(p => $"{p.Key}={p.Value}"))
            + $"; bob: closing={bob.Session.IsClosing} sendsStarted={bob.Socket.SendsStarted} frames={bob.Socket.Frames.Count}";
        entry.Status.Should().Be(HealthStatus.Degraded, seen);
        entry.Description.Should().Contain("1 of 2 connections are behind", seen);
        ((long)entry.Data["queued_bytes"]).Should().BeGreaterThan(0);
        bob.Socket.ReleaseSends();
    }

    [Fact]
    public async Task HostStopping_IsUnhealthy()
    {
        await using RelayTestHost host = Host();
        await host.ConnectAsync("alice");

        await host.Handler.CloseAllAsync().WaitAsync(TestTimeouts.Default);
        HealthReportEntry entry = await CheckAsync(host);

        entry.Status.Should().Be(HealthStatus.Unhealthy);
        entry.Description.Should().Contain("stopping");
    }

    [Theory]
    [InlineData(HealthStatus.Unhealthy, HealthStatus.Unhealthy)]
    [InlineData(HealthStatus.Degraded, HealthStatus.Degraded)]
    public async Task TheBackplanesHealth_IsReported_WithItsDescriptionAndData(HealthStatus backplane, HealthStatus expected)
    {
        var fake = new ReportingBackplane(new HealthCheckResult(backplane, "redis unreachable", data: new Dictionary<string, object> { ["connected"] = false }));
        await using RelayTestHost host = Host(services: s => s.Replace(ServiceDescriptor.Singleton<IRelayBackplane>(fake)));

        HealthReportEntry entry = await CheckAsync(host);

        entry.Status.Should().Be(expected);
        entry.Description.Should().Contain("redis unreachable");
        entry.Data["backplane.connected"].Should().Be(false);
    }

    private sealed class ReportingBackplane(HealthCheckResult health) : IRelayBackplane
    {
        public ValueTask<HealthCheckResult> CheckHealthAsync(CancellationToken cancellationToken = default) => new(health);

        public ValueTask<PublishOutcome> PublishMessageAsync(string groupId, string from, ReadOnlyMemory<byte> body, bool bodyIsCompact, RelayConnection? sender, bool echo, string? idempotencyKey, CancellationToken cancellationToken = default)
            => new(new PublishOutcome(0) { Unavailable = true });

        public ValueTask<IReadOnlyList<StreamPosition>> GetPositionsAsync(IReadOnlyList<string> groupIds, CancellationToken cancellationToken = default)
            => new(Array.ConvertAll(new string[groupIds.Count], _ => new StreamPosition("e1", 0)));

        public ValueTask<HistoryPage> ReadHistoryAsync(string groupId, long after, string? epoch, int limit, CancellationToken cancellationToken = default)
            => new(new HistoryPage(Array.Empty<ReadOnlyMemory<byte>>(), new StreamPosition("e1", 0), Complete: true));

        public void PublishMemberEvent(string groupId, string userId, bool joined)
        {
        }

        public void PublishPresence(string userId, bool online, string? status)
        {
        }

        public Task<bool> ChangeMembershipAsync(string userId, string groupId, bool add, CancellationToken cancellationToken = default) => Task.FromResult(false);
    }
}
