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
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace GroupRelay.Transports.Fleck.Tests;

// Issue 11 #1 on Fleck: a peer silent for KeepAliveInterval + KeepAliveTimeout is dropped as on ASP.NET Core
// (AspNetCoreKeepAliveTests). Short intervals; no assertion is tighter than the test timeout.
public sealed partial class FleckTransportTests
{
    private static void ShortKeepAlive(GroupRelayOptions o)
    {
        o.KeepAliveInterval = TimeSpan.FromMilliseconds(200);
        o.KeepAliveTimeout = TimeSpan.FromMilliseconds(300);
    }

    [Fact]
    public async Task KeepAlive_PeerThatStopsReadingAndAnswering_IsDropped_GoesOffline_MembersGetLeft_LoggedAndCounted()
    {
        Group("team", "alice", "dead");
        await StartAsync(ShortKeepAlive);
        using var timeouts = new KeepAliveTimeoutCounter(_harness.Services.GetService<IMeterFactory>());
        RawWebSocket dead = await ConnectRawAsync("dead");
        string deadId = await ReadWelcomeAsync(dead);
        RelayTestClient alice = await ConnectAsync("alice");
        JsonElement watched = await alice.RequestAsync(new Dictionary<string, object?> { ["type"] = "watch", ["id"] = "w", ["users"] = new[] { "dead" } });
        watched.GetProperty("online")[0].GetProperty("user").GetString().Should().Be("dead");

        // From now on 'dead' neither reads nor answers: its pings go unanswered.
        JsonElement left = await alice.ExpectAsync("left", f => f.GetProperty("user").GetString() == "dead");
        left.GetProperty("group").GetString().Should().Be("team");
        JsonElement offline = await alice.ExpectAsync("presence", f => f.GetProperty("user").GetString() == "dead");
        offline.GetProperty("online").GetBoolean().Should().BeFalse();
        (await _harness.Relay.GetPresenceAsync("dead").AsTask().WaitAsync(Timeout)).IsOnline.Should().BeFalse();

        await WaitUntilAsync(() => _harness.Logs.WithEventId(207).Any(e => Equals(e.Values.GetValueOrDefault("ConnectionId"), deadId)), "the dead peer's session is disposed");
        _harness.Logs.WithEventId(212).Should().ContainSingle().Which.Values["ConnectionId"].Should().Be(deadId);
        _harness.Logs.WithEventId(20).Should().ContainSingle().Which.Text.Should().Contain(deadId);
        _harness.Logs.WithEventId(2).Should().Contain(e => e.Text.Contains(deadId) && e.Text.Contains("1006") && e.Text.Contains("keep-alive timeout"));
        timeouts.Count.Should().Be(1);
        AssertDisposedOnce(deadId);

        // On the wire: the pings it did not read, then the end of the TCP connection without a close frame (1006), as
        // on Kestrel, where .NET aborts the socket.
        (await dead.ReceiveCloseAsync(Timeout)).Should().BeNull("a dead peer is dropped without a close frame");

        // alice's ClientWebSocket answers every ping: she stays.
        JsonElement pong = await alice.RequestAsync(new Dictionary<string, object?> { ["type"] = "ping", ["id"] = "p" });
        pong.GetProperty("type").GetString().Should().Be("pong");
        alice.Socket.State.Should().Be(WebSocketState.Open);
        (await _harness.Relay.GetOnlineUsersAsync().AsTask().WaitAsync(Timeout)).Should().Equal("alice");
    }

    [Fact]
    public async Task KeepAlive_PeerThatAnswersPings_StaysOnline()
    {
        // A timeout of 1 s rather than 300 ms: a pong that waits that long for a thread of this busy test process would
        // rightly count as missing.
        await StartAsync(o =>
        {
            ShortKeepAlive(o);
            o.KeepAliveTimeout = TimeSpan.FromSeconds(1);
        });
        RawWebSocket peer = await ConnectRawAsync("bob");
        await ReadWelcomeAsync(peer);

        // Answer ten pings (2 s), longer than KeepAliveInterval + KeepAliveTimeout.
        int pings = 0;
        while (pings < 10)
        {
            (byte Opcode, byte[] Payload)? frame = await peer.ReceiveFrameAsync(Timeout);
            frame.Should().NotBeNull("the server keeps the connection");
            frame!.Value.Opcode.Should().NotBe((byte)0x8, "the server does not close a peer that answers");
            if (frame.Value.Opcode == 0x9)
            {
                pings++;
                await peer.SendFrameAsync(0xA, frame.Value.Payload);
            }
        }

        await peer.SendTextAsync("{\"type\":\"ping\",\"id\":\"still\"}");
        (byte Opcode, byte[] Payload)? reply;
        do
        {
            reply = await peer.ReceiveFrameAsync(Timeout);
            reply.Should().NotBeNull();
        }
        while (reply!.Value.Opcode == 0x9);

        System.Text.Encoding.UTF8.GetString(reply.Value.Payload).Should().Contain("pong").And.Contain("still");
        (await _harness.Relay.GetPresenceAsync("bob").AsTask().WaitAsync(Timeout)).IsOnline.Should().BeTrue();
        _harness.Logs.WithEventId(212).Should().BeEmpty();
    }

    [Fact]
    public async Task KeepAliveTimeoutZero_StillPings_AndDropsNoOne()
    {
        await StartAsync(o =>
        {
            ShortKeepAlive(o);
            o.KeepAliveTimeout = TimeSpan.Zero;
        });
        RawWebSocket peer = await ConnectRawAsync("bob");
        await ReadWelcomeAsync(peer);

        // Read (a client that reads but never answers) five pings: 1 s, twice KeepAliveInterval + the timeout it no longer has.
        for (int i = 0; i < 5; i++)
        {
            (byte Opcode, byte[] Payload)? frame = await peer.ReceiveFrameAsync(Timeout);
            frame.Should().NotBeNull("the server keeps the connection");
            frame!.Value.Opcode.Should().Be((byte)0x9);
        }

        (await _harness.Relay.GetPresenceAsync("bob").AsTask().WaitAsync(Timeout)).IsOnline.Should().BeTrue();
        _harness.Logs.WithEventId(212).Should().BeEmpty();
        _harness.Logs.WithEventId(20).Should().BeEmpty();
    }

    /// <summary>
    /// Counts <c>grouprelay.keepalive.timeouts</c> on this test's <c>GroupRelay</c> meter (the one its host's
    /// <see cref="IMeterFactory"/> created), so tests running in parallel do not count each other's.
    /// </summary>
    private sealed class KeepAliveTimeoutCounter : IDisposable
    {
        private readonly MeterListener _listener = new();
        private long _count;

        public KeepAliveTimeoutCounter(IMeterFactory? scope)
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == "GroupRelay" && instrument.Name == "grouprelay.keepalive.timeouts" && (scope is null || ReferenceEquals(instrument.Meter.Scope, scope)))
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
