using System;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Linq;
using System.Threading.Tasks;
using FluentAssertions;
using GroupRelay.Core.Tests.Infrastructure;
using Xunit;

namespace GroupRelay.Core.Tests;

/// <summary>
/// The <c>GroupRelay</c> ActivitySource: spans for connect, each request, and a message's send and delivery, with
/// OpenTelemetry's messaging attributes. Captured in-process with an <see cref="ActivityListener"/>; each test uses
/// users and groups of its own, since the listener also hears tests running in parallel.
/// </summary>
public sealed class RelayTracingTests : IDisposable
{
    private readonly ConcurrentQueue<Activity> _stopped = new();
    private readonly ActivityListener _listener;

    public RelayTracingTests()
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "GroupRelay",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = _stopped.Enqueue,
        };
        ActivitySource.AddActivityListener(_listener);
    }

    public void Dispose() => _listener.Dispose();

    private Activity[] Spans(string tagKey, string tagValue)
        => _stopped.Where(a => Equals(a.GetTagItem(tagKey), tagValue)).ToArray();

    [Fact]
    public async Task Connect_IsOneServerSpan_WithTheConnectionAndTheUser()
    {
        await using RelayTestHost host = RelayTestHost.Create();
        host.Group("trace-connect", "tracy");

        TestConnection tracy = await host.ConnectAsync("tracy");

        Activity span = Spans("grouprelay.connection.id", tracy.ConnectionId).Should().ContainSingle(a => a.OperationName == "grouprelay connect").Subject;
        span.Kind.Should().Be(ActivityKind.Server);
        span.GetTagItem("user.id").Should().Be("tracy");
        span.Status.Should().Be(ActivityStatusCode.Unset);
    }

    [Fact]
    public async Task Send_IsAProducerSpan_WithAChildProcessSpanPerDelivery_TaggedPerTheMessagingConventions()
    {
        await using RelayTestHost host = RelayTestHost.Create();
        host.Group("trace-send", "sam", "sue");
        TestConnection sam = await host.ConnectAsync("sam");
        TestConnection sue = await host.ConnectAsync("sue");

        await sam.RequestAsync("""{"type":"send","id":"t1","group":"trace-send","body":1}""", "t1");
        await sue.SyncAsync();

        Activity send = Spans("messaging.destination.name", "trace-send").Should().ContainSingle(a => a.OperationName == "send").Subject;
        send.Kind.Should().Be(ActivityKind.Producer);
        send.GetTagItem("messaging.system").Should().Be("grouprelay");
        send.GetTagItem("messaging.operation.type").Should().Be("send");
        send.GetTagItem("messaging.client.id").Should().Be(sam.ConnectionId);
        send.GetTagItem("messaging.message.id").Should().Be("t1");
        Activity process = Spans("messaging.destination.name", "trace-send").Should().ContainSingle(a => a.OperationName == "process").Subject;
        process.Kind.Should().Be(ActivityKind.Consumer);
        process.ParentSpanId.Should().Be(send.SpanId, "in process the delivery happens inside the send");
        process.GetTagItem("grouprelay.seq").Should().Be(1L);
        process.GetTagItem("grouprelay.deliveries").Should().Be(2);
    }

    [Fact]
    public async Task ARequestAnsweredWithAnError_MarksOnlyItsOwnSpanFailed_WithTheErrorCode()
    {
        await using RelayTestHost host = RelayTestHost.Create();
        host.Group("trace-mine", "nora");
        TestConnection nora = await host.ConnectAsync("nora");

        await nora.RequestAsync("""{"type":"send","id":"x","group":"trace-not-mine","body":1}""", "x");
        await nora.RequestAsync("""{"type":"history","id":"h","group":"trace-not-mine","after":0}""", "h");
        await nora.RequestAsync("""{"type":"members","id":"m","group":"trace-mine"}""", "m");

        Activity send = Spans("messaging.destination.name", "trace-not-mine").Should().ContainSingle().Subject;
        send.Status.Should().Be(ActivityStatusCode.Error);
        send.GetTagItem("error.type").Should().Be("not_member");
        Activity[] requests = Spans("grouprelay.connection.id", nora.ConnectionId).Where(a => a.OperationName != "grouprelay connect").ToArray();
        requests.Select(a => a.OperationName).Should().BeEquivalentTo("grouprelay history", "grouprelay members");
        requests.Single(a => a.OperationName == "grouprelay history").GetTagItem("error.type").Should().Be("not_member");
        requests.Single(a => a.OperationName == "grouprelay members").Status.Should().Be(ActivityStatusCode.Unset);
    }

    [Fact]
    public async Task AConnectionRefusedByItsMembershipSource_HasAFailedConnectSpan_WithTheCloseCode()
    {
        await using RelayTestHost host = RelayTestHost.Create(o => o.MaxGroupsPerUser = 1);
        host.Group("trace-a", "greedy");
        host.Group("trace-b", "greedy");

        TestConnection greedy = await host.ConnectAsync("greedy", waitForWelcome: false);
        await greedy.Socket.WaitForCloseAsync();

        Activity span = Spans("grouprelay.connection.id", greedy.ConnectionId).Should().ContainSingle().Subject;
        span.Status.Should().Be(ActivityStatusCode.Error);
        span.GetTagItem("error.type").Should().Be("1011");
    }
}
