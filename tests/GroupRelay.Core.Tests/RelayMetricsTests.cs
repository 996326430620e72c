using System;
using System.Diagnostics.Metrics;
using System.Linq;
using System.Threading.Tasks;
using FluentAssertions;
using GroupRelay.Core.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace GroupRelay.Core.Tests;

/// <summary>The instruments of the GroupRelay meter, read with a MeterListener scoped to each test's meter factory.</summary>
public sealed class RelayMetricsTests
{
    private static MetricsRecorder Record(RelayTestHost host) => new(host.Services.GetRequiredService<IMeterFactory>());

    [Fact]
    public async Task Send_RoutedMessage_OneMessageAndOneDeliveryPerConnection()
    {
        await using RelayTestHost host = RelayTestHost.Create();
        host.Group("team", "alice", "bob");
        host.Membership.SetGroups("carol", "other");
        TestConnection alice1 = await host.ConnectAsync("alice");
        await host.ConnectAsync("alice");
        await host.ConnectAsync("bob");
        await host.ConnectAsync("carol");
        using MetricsRecorder metrics = Record(host);

        await alice1.RequestAsync("""{"type":"send","id":"m1","group":"team","body":1}""", "m1");

        metrics.Sum("grouprelay.messages").Should().Be(1);
        metrics.Sum("grouprelay.deliveries").Should().Be(3, "two connections of alice (with echo) and one of bob");

        await alice1.RequestAsync("""{"type":"send","id":"m2","group":"team","body":2,"echo":false}""", "m2");

        metrics.Sum("grouprelay.messages").Should().Be(2);
        metrics.Sum("grouprelay.deliveries").Should().Be(5);
    }

    [Fact]
    public async Task Send_NotAMember_NoMessageCountedAndRequestErrorByCode()
    {
        await using RelayTestHost host = RelayTestHost.Create();
        TestConnection alice = await host.ConnectAsync("alice");
        using MetricsRecorder metrics = Record(host);

        await alice.RequestAsync("""{"type":"send","id":"m1","group":"ops","body":1}""", "m1");
        await alice.RequestAsync("""{"type":"nope","id":"x"}""", "x");

        metrics.Sum("grouprelay.messages").Should().Be(0);
        metrics.Sum("grouprelay.request.errors", "code", "not_member").Should().Be(1);
        metrics.Sum("grouprelay.request.errors", "code", "unknown_type").Should().Be(1);
    }

    [Fact]
    public async Task Publish_ServerSide_CountedAsMessage()
    {
        await using RelayTestHost host = RelayTestHost.Create();
        host.Group("team", "alice");
        await host.ConnectAsync("alice");
        using MetricsRecorder metrics = Record(host);

        await host.Relay.PublishAsync("team", Json.Utf8("1"), "system").AsTask().WaitAsync(TestTimeouts.Default);

        metrics.Sum("grouprelay.messages").Should().Be(1);
        metrics.Sum("grouprelay.deliveries").Should().Be(1);
    }

    [Fact]
    public async Task Route_SlowConsumerDropped_OneDropWithReasonSlowConsumer()
    {
        await using RelayTestHost host = RelayTestHost.Create(o =>
        {
            o.RateLimitEnabled = false;
            o.MaxQueueFrames = 3;
            o.SlowConsumerTimeout = TimeSpan.Zero;
        });
        host.Group("team", "alice", "bob");
        TestConnection alice = await host.ConnectAsync("alice");
        TestConnection bob = await host.ConnectAsync("bob");
        bob.Socket.HoldSends();
        using MetricsRecorder metrics = Record(host);

        // The first message takes bob's writer into a send that never completes; only then is bob judged stuck.
        await alice.SendAsync("""{"type":"send","group":"team","echo":false,"body":1}""");
        await bob.Socket.WaitForSendsStartedAsync(2);
        for (int i = 1; i < 10; i++)
        {
            await alice.SendAsync("""{"type":"send","group":"team","echo":false,"body":1}""");
        }

        bob.Session.IsClosing.Should().BeTrue();
        metrics.Sum("grouprelay.drops", "reason", "slow_consumer").Should().Be(1, "the overflow that closes the connection");
        long closing = metrics.Sum("grouprelay.drops", "reason", "connection_closing");
        closing.Should().BeGreaterThan(0, "frames for a connection already closing are dropped too");
        metrics.Sum("grouprelay.messages").Should().Be(10);
        metrics.Sum("grouprelay.deliveries").Should().Be(10 - 1 - closing, "a dropped frame is not a delivery");
        bob.Socket.ReleaseSends();
    }

    [Fact]
    public async Task ReceiveText_RateLimited_DropWithReasonRateLimited()
    {
        await using RelayTestHost host = RelayTestHost.Create(o =>
        {
            o.RateLimitBurst = 1;
            o.RateLimitPerSecond = 0.001;
        });
        TestConnection alice = await host.ConnectAsync("alice");
        using MetricsRecorder metrics = Record(host);

        await alice.RequestAsync("""{"type":"ping","id":"a"}""", "a");
        await alice.RequestAsync("""{"type":"ping","id":"b"}""", "b");

        metrics.Sum("grouprelay.drops", "reason", "rate_limited").Should().Be(1);
        metrics.Sum("grouprelay.request.errors", "code", "rate_limited").Should().Be(1);
    }

    [Fact]
    public async Task Connections_OpenAndClose_UpDownCounterReturnsToZeroAndClosesByCode()
    {
        await using RelayTestHost host = RelayTestHost.Create();
        using MetricsRecorder metrics = Record(host);

        TestConnection a = await host.ConnectAsync("alice");
        TestConnection b = await host.ConnectAsync("bob");
        metrics.Sum("grouprelay.connections").Should().Be(2);

        b.Session.ReceiveTooLarge();
        await b.Socket.WaitForCloseAsync();
        await b.DisposeAsync();
        await a.DisposeAsync();

        metrics.Sum("grouprelay.connections").Should().Be(0);
        metrics.Sum("grouprelay.connection.closes", "code", 1009).Should().Be(1);
        metrics.Sum("grouprelay.connection.closes", "code", 1000).Should().Be(1, "a connection the client ended counts as normal closure");
    }
}
