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
        metrics.Sum("grouprelay.request.errors", "error.type", "not_member").Should().Be(1);
        metrics.Sum("grouprelay.request.errors", "error.type", "unknown_type").Should().Be(1);
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
        metrics.Sum("grouprelay.drops", "grouprelay.drop.reason", "slow_consumer").Should().Be(1, "the overflow that closes the connection");
        long closing = metrics.Sum("grouprelay.drops", "grouprelay.drop.reason", "connection_closing");
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

        metrics.Sum("grouprelay.drops", "grouprelay.drop.reason", "rate_limited").Should().Be(1);
        metrics.Sum("grouprelay.request.errors", "error.type", "rate_limited").Should().Be(1);
    }

    [Fact]
    public async Task Connections_OpenAndClose_UpDownCounterReturnsToZeroAndClosesByCode()
    {
        await using RelayTestHost host = RelayTestHost.Create();
        using MetricsRecorder metrics = Record(host);

        TestConnection a = await host.ConnectAsync("alice");
        TestConnection b = await host.ConnectAsync("bob");
        metrics.Sum("grouprelay.connection.count").Should().Be(2);

        b.Session.ReceiveTooLarge();
        await b.Socket.WaitForCloseAsync();
        await b.DisposeAsync();
        await a.DisposeAsync();

        metrics.Sum("grouprelay.connection.count").Should().Be(0);
        metrics.Recorded("grouprelay.connection.duration", "grouprelay.close_code", 1009).Should().ContainSingle().Which.Should().BeGreaterThan(0);
        metrics.Recorded("grouprelay.connection.duration", "error.type", "1009").Should().ContainSingle("1009 is a failure");
        metrics.Recorded("grouprelay.connection.duration", "grouprelay.close_code", 1000).Should().ContainSingle("a connection the client ended counts as normal closure");
        metrics.Recorded("grouprelay.connection.duration", "error.type", "1000").Should().BeEmpty("a normal closure is no failure");
    }

    [Fact]
    public async Task EveryInstrument_FollowsOpenTelemetrysConventions_AndIsListedInTheDocs()
    {
        await using RelayTestHost host = RelayTestHost.Create(o => o.MaxQueueFrames = 2);
        using MetricsRecorder metrics = Record(host);
        host.Group("team", "alice", "bob");
        TestConnection alice = await host.ConnectAsync("alice");
        TestConnection bob = await host.ConnectAsync("bob");
        await alice.RequestAsync("""{"type":"send","id":"s","group":"team","body":1}""", "s");
        await alice.RequestAsync("""{"type":"send","id":"x","group":"nope","body":1}""", "x");
        bob.Session.ReceiveTooLarge();
        await bob.Socket.WaitForCloseAsync();
        await bob.DisposeAsync();

        string docs = System.IO.File.ReadAllText(System.IO.Path.Combine(RepositoryRoot(), "docs", "configuration.md"));
        metrics.Instruments.Should().NotBeEmpty();
        foreach (Instrument instrument in metrics.Instruments)
        {
            instrument.Name.Should().StartWith("grouprelay.");
            instrument.Name.Should().MatchRegex("^[a-z0-9_.]+$");
            instrument.Unit.Should().NotBeNullOrEmpty($"{instrument.Name} has a unit");
            instrument.Description.Should().NotBeNullOrEmpty($"{instrument.Name} says what it counts");
            docs.Should().Contain("`" + instrument.Name + "`", $"docs/configuration.md lists {instrument.Name}");
            if (instrument.GetType().GetGenericTypeDefinition() == typeof(UpDownCounter<>))
            {
                instrument.Name.Should().NotEndWith("s", "an UpDownCounter's name is not pluralised (OpenTelemetry)");
            }

            if (instrument.GetType().GetGenericTypeDefinition() == typeof(Histogram<>) && instrument.Unit == "s")
            {
                instrument.Name.Should().EndWith(".duration");
            }
        }

        metrics.TagKeys().Should().NotBeEmpty().And.OnlyContain(key => key.StartsWith("grouprelay.", StringComparison.Ordinal) || key == "error.type");
#if NET9_0_OR_GREATER
        foreach (Histogram<double> histogram in metrics.Instruments.OfType<Histogram<double>>())
        {
            histogram.Advice!.HistogramBucketBoundaries.Should().NotBeNullOrEmpty($"{histogram.Name} advises its buckets");
        }
#endif
    }

    private static string RepositoryRoot()
    {
        string folder = AppContext.BaseDirectory;
        while (!System.IO.File.Exists(System.IO.Path.Combine(folder, "GroupRelay.sln")))
        {
            folder = System.IO.Path.GetDirectoryName(folder) ?? throw new InvalidOperationException("GroupRelay.sln not found above " + AppContext.BaseDirectory);
        }

        return folder;
    }
}
