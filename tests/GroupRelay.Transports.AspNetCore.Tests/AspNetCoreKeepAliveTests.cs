using System;
using System.Collections.Generic;
using System.Diagnostics.Metrics;
using System.Linq;
using System.Net.WebSockets;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using FluentAssertions;
using GroupRelay.Specification.Tests;
using Xunit;

namespace GroupRelay.Transports.AspNetCore.Tests;

/// <summary>
/// Issue 11 #1 on Kestrel: with <c>KeepAliveTimeout</c> the server pings, and a peer that has not answered within
/// <c>KeepAliveInterval + KeepAliveTimeout</c> is dropped: offline for its watchers, <c>left</c> for its groups, a log
/// line and a metric. Short intervals, so the test takes about a second; no assertion is tighter than the test timeout.
/// </summary>
public sealed class AspNetCoreKeepAliveTests
{
    private static readonly TimeSpan Timeout = RelayTestClient.DefaultTimeout;

    private static void ShortKeepAlive(GroupRelayOptions o)
    {
        o.KeepAliveInterval = TimeSpan.FromMilliseconds(300);
        o.KeepAliveTimeout = TimeSpan.FromMilliseconds(500);
    }

    [Fact]
    public async Task PeerThatStopsReadingAndAnswering_IsDropped_GoesOffline_MembersGetLeft_LoggedAndCounted()
    {
        var logs = new LogRecorder();
        await using var server = new KestrelRelayHarness(logs: logs);
        server.Membership.SetGroups("alice", "team");
        server.Membership.SetGroups("dead", "team");
        using var timeouts = new KeepAliveTimeoutCounter();
        await server.StartAsync(ShortKeepAlive).WaitAsync(Timeout);
        await using RawWebSocket dead = await RawWebSocket.ConnectAsync(server.RelayUri, "dead");
        await dead.ReceiveTextContainingAsync("welcome");
        await using RelayTestClient alice = await server.ConnectAsync("alice");
        JsonElement watched = await alice.RequestAsync(new Dictionary<string, object?> { ["type"] = "watch", ["id"] = "w", ["users"] = new[] { "dead" } });
        watched.GetProperty("online")[0].GetProperty("user").GetString().Should().Be("dead");

        // From now on 'dead' neither reads nor answers: its pings go unanswered.
        JsonElement left = await alice.ExpectAsync("left", f => f.GetProperty("user").GetString() == "dead");
        left.GetProperty("group").GetString().Should().Be("team");
        JsonElement offline = await alice.ExpectAsync("presence", f => f.GetProperty("user").GetString() == "dead");
        offline.GetProperty("online").GetBoolean().Should().BeFalse();

        (await server.Relay.GetPresenceAsync("dead").AsTask().WaitAsync(Timeout)).IsOnline.Should().BeFalse();
        await WaitUntilAsync(() => logs.WithEventId(20).Any(), "the keep-alive timeout is logged");
        logs.WithEventId(20).Should().ContainSingle().Which.Should().Contain("dead");
        logs.WithEventId(2).Should().Contain(line => line.Contains("1006") && line.Contains("keep-alive timeout"));
        timeouts.Count.Should().BeGreaterThanOrEqualTo(1);

        // alice's ClientWebSocket answers every ping: she stays.
        JsonElement pong = await alice.RequestAsync(new Dictionary<string, object?> { ["type"] = "ping", ["id"] = "p" });
        pong.GetProperty("type").GetString().Should().Be("pong");
        alice.Socket.State.Should().Be(WebSocketState.Open);
    }

    [Fact]
    public async Task TheServerSendsPings_AndAPeerThatAnswersThemStaysOnline()
    {
        await using var server = new KestrelRelayHarness();

        // Pings come every 300 ms; the peer's answers may be late on a loaded machine (a test run shares two cores with
        // others), so the timeout here is generous: what is tested is that answering keeps the peer, not how fast.
        await server.StartAsync(o =>
        {
            ShortKeepAlive(o);
            o.KeepAliveTimeout = TimeSpan.FromSeconds(10);
        }).WaitAsync(Timeout);
        await using RawWebSocket peer = await RawWebSocket.ConnectAsync(server.RelayUri, "bob");
        await peer.ReceiveTextContainingAsync("welcome");

        // Answer five pings.
        int pings = 0;
        while (pings < 5)
        {
            (byte Opcode, byte[] Payload)? frame = await peer.ReceiveFrameAsync();
            frame.Should().NotBeNull("the server keeps the connection");
            frame!.Value.Opcode.Should().NotBe((byte)0x8, "the server does not close a peer that answers");
            if (frame.Value.Opcode == 0x9)
            {
                pings++;
                await peer.SendFrameAsync(0xA, frame.Value.Payload);
            }
        }

        await peer.SendTextAsync("{\"type\":\"ping\",\"id\":\"still\"}");
        (await peer.ReceiveTextContainingAsync("pong")).Should().Contain("still");
        (await server.Relay.GetPresenceAsync("bob").AsTask().WaitAsync(Timeout)).IsOnline.Should().BeTrue();
    }

    [Fact]
    public async Task KeepAliveTimeoutZero_SendsNoPings_AndDropsNoOne()
    {
        await using var server = new KestrelRelayHarness();
        await server.StartAsync(o =>
        {
            ShortKeepAlive(o);
            o.KeepAliveTimeout = TimeSpan.Zero;
        }).WaitAsync(Timeout);
        await using RawWebSocket peer = await RawWebSocket.ConnectAsync(server.RelayUri, "bob");
        await peer.ReceiveTextContainingAsync("welcome");

        // Without a timeout .NET keeps the connection warm with unsolicited pongs, which need no answer.
        for (int i = 0; i < 3; i++)
        {
            (byte Opcode, byte[] Payload)? frame = await peer.ReceiveFrameAsync();
            frame.Should().NotBeNull();
            frame!.Value.Opcode.Should().Be((byte)0xA);
        }

        (await server.Relay.GetPresenceAsync("bob").AsTask().WaitAsync(Timeout)).IsOnline.Should().BeTrue();
    }

    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        DateTime deadline = DateTime.UtcNow + Timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Timed out waiting until {what}.");
            }

            await Task.Delay(20);
        }
    }

    /// <summary>Counts <c>grouprelay.keepalive.timeouts</c> on any <c>GroupRelay</c> meter of this process.</summary>
    private sealed class KeepAliveTimeoutCounter : IDisposable
    {
        private readonly MeterListener _listener = new();
        private long _count;

        public KeepAliveTimeoutCounter()
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == "GroupRelay" && instrument.Name == "grouprelay.keepalive.timeouts")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref _count, value));
            _listener.Start();
        }

        public long Count => Interlocked.Read(ref _count);

        public void Dispose() => _listener.Dispose();
    }
}
