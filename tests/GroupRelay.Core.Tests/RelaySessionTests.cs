using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using FluentAssertions;
using GroupRelay.Core.Tests.Infrastructure;
using GroupRelay.Transports;
using Xunit;

namespace GroupRelay.Core.Tests;

/// <summary>What a transport drives on a session: bad input, closes from either side, failures, limits.</summary>
public sealed class RelaySessionTests
{
    private sealed class ThrowingMembership : IMembershipSource
    {
        public ValueTask<IReadOnlyCollection<string>> GetGroupsAsync(string userId, CancellationToken cancellationToken = default)
            => throw new InvalidOperationException("the database is down");

        public ValueTask<IReadOnlyCollection<string>> GetContactsAsync(string userId, CancellationToken cancellationToken = default)
            => throw new InvalidOperationException("the database is down");
    }

    private sealed class HangingMembership : IMembershipSource
    {
        public async ValueTask<IReadOnlyCollection<string>> GetGroupsAsync(string userId, CancellationToken cancellationToken = default)
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
            return Array.Empty<string>();
        }

        public ValueTask<IReadOnlyCollection<string>> GetContactsAsync(string userId, CancellationToken cancellationToken = default)
            => new(Array.Empty<string>());
    }

    private sealed class NullMembership : IMembershipSource
    {
        public ValueTask<IReadOnlyCollection<string>> GetGroupsAsync(string userId, CancellationToken cancellationToken = default) => new((IReadOnlyCollection<string>)null!);

        public ValueTask<IReadOnlyCollection<string>> GetContactsAsync(string userId, CancellationToken cancellationToken = default) => new(Array.Empty<string>());
    }

    public static TheoryData<string> FailingSources => new() { "throws", "hangs", "returns null" };

    [Theory]
    [MemberData(nameof(FailingSources))]
    public async Task Accept_MembershipSourceFails_ClosedWith1011WithoutWelcomeAndNothingRegistered(string failure)
    {
        IMembershipSource source = failure switch
        {
            "throws" => new ThrowingMembership(),
            "hangs" => new HangingMembership(),
            _ => new NullMembership(),
        };
        await using RelayTestHost host = RelayTestHost.Create(o => o.MembershipTimeout = TimeSpan.FromMilliseconds(100), membership: source);

        TestConnection alice = await host.ConnectAsync("alice", waitForWelcome: false);

        (await alice.Socket.WaitForCloseAsync()).Should().Be(RelayCloseCodes.InternalError);
        alice.Session.IsClosing.Should().BeTrue();
        alice.Socket.Frames.Should().BeEmpty("nothing is sent before welcome, and welcome needs the membership");
        host.Presence.OnlineUserCount.Should().Be(0);
        await alice.DisposeAsync();
        host.Handler.ConnectionCount.Should().Be(0);
        host.Directory.GroupCount.Should().Be(0);
    }

    [Fact]
    public async Task Accept_MembershipSourceFailsForOneUser_OthersUnaffected()
    {
        var source = new InMemoryMembershipSource();
        source.SetGroups("bob", "team");
        await using RelayTestHost host = RelayTestHost.Create(membership: new SelectiveMembership(source, failFor: "alice"));

        TestConnection bob = await host.ConnectAsync("bob");
        TestConnection alice = await host.ConnectAsync("alice", waitForWelcome: false);

        (await alice.Socket.WaitForCloseAsync()).Should().Be(RelayCloseCodes.InternalError);
        await bob.SyncAsync();
        bob.Socket.CloseCode.Should().BeNull();
    }

    private sealed class SelectiveMembership : IMembershipSource
    {
        private readonly IMembershipSource _inner;
        private readonly string _failFor;

        public SelectiveMembership(IMembershipSource inner, string failFor)
        {
            _inner = inner;
            _failFor = failFor;
        }

        public ValueTask<IReadOnlyCollection<string>> GetGroupsAsync(string userId, CancellationToken cancellationToken = default)
            => userId == _failFor ? throw new InvalidOperationException("no") : _inner.GetGroupsAsync(userId, cancellationToken);

        public ValueTask<IReadOnlyCollection<string>> GetContactsAsync(string userId, CancellationToken cancellationToken = default)
            => _inner.GetContactsAsync(userId, cancellationToken);
    }

    [Theory]
    [InlineData("")]
    [InlineData("129")]
    public async Task Accept_InvalidUserId_ClosedWith1011(string user)
    {
        await using RelayTestHost host = RelayTestHost.Create();

        TestConnection connection = await host.ConnectAsync(user == "129" ? new string('u', 129) : user, waitForWelcome: false);

        (await connection.Socket.WaitForCloseAsync()).Should().Be(RelayCloseCodes.InternalError);
        host.Presence.OnlineUserCount.Should().Be(0);
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("[1,2]")]
    [InlineData("""{"type":"send","id":"x"}""")]
    [InlineData("""{"type":"ping","id":"\ud800"}""")]
    [InlineData("""{"type":"watch","users":["\udc00"]}""")]
    [InlineData("""{"type":"members","group":""}""")]
    public async Task ReceiveText_BadRequest_ErrorFrameAndConnectionStaysOpen(string frame)
    {
        await using RelayTestHost host = RelayTestHost.Create();
        TestConnection alice = await host.ConnectAsync("alice");

        await alice.SendAsync(frame);
        JsonElement error = await alice.Socket.WaitForFrameAsync("error");

        Json.Str(error, "code").Should().Be("bad_request");
        await alice.SyncAsync();
        alice.Session.IsClosing.Should().BeFalse();
    }

    [Fact]
    public async Task ReceiveText_UnknownType_UnknownTypeErrorRepeatingId()
    {
        await using RelayTestHost host = RelayTestHost.Create();
        TestConnection alice = await host.ConnectAsync("alice");

        JsonElement error = await alice.RequestAsync("""{"type":"subscribe","id":"u1"}""", "u1");

        Json.Type(error).Should().Be("error");
        Json.Str(error, "code").Should().Be("unknown_type");
    }

    [Fact]
    public async Task ReceiveBinary_AnyTime_BadRequestAndConnectionStaysOpen()
    {
        await using RelayTestHost host = RelayTestHost.Create();
        TestConnection alice = await host.ConnectAsync("alice");

        alice.Session.ReceiveBinary();

        JsonElement error = await alice.Socket.WaitForFrameAsync("error");
        Json.Str(error, "code").Should().Be("bad_request");
        error.TryGetProperty("id", out _).Should().BeFalse();
        await alice.SyncAsync();
    }

    [Fact]
    public async Task ReceiveTooLarge_AnyTime_ClosedWith1009AndOthersUnaffected()
    {
        await using RelayTestHost host = RelayTestHost.Create();
        TestConnection alice = await host.ConnectAsync("alice");
        TestConnection bob = await host.ConnectAsync("bob");

        alice.Session.ReceiveTooLarge();

        (await alice.Socket.WaitForCloseAsync()).Should().Be(RelayCloseCodes.MessageTooBig);
        await bob.SyncAsync();
        bob.Socket.CloseCode.Should().BeNull();
    }

    [Fact]
    public async Task ReceiveText_FloodingClient_RateLimitedThenClosedWith4008()
    {
        await using RelayTestHost host = RelayTestHost.Create(o =>
        {
            o.RateLimitBurst = 3;
            o.RateLimitPerSecond = 0.001;
            o.FloodRejectionsPerSecond = 3;
        });
        TestConnection alice = await host.ConnectAsync("alice");
        TestConnection bob = await host.ConnectAsync("bob");

        for (int i = 1; i <= 3; i++)
        {
            await alice.RequestAsync($$"""{"type":"ping","id":"p{{i}}"}""", "p" + i);
        }

        // From now on every request is rejected; after enough rejections within one second the client is flooding.
        // Each reply is awaited before the next request, so what was sent is not raced by the close.
        for (int i = 4; i < 100 && alice.Socket.CloseCode is null; i++)
        {
            string id = "p" + i;
            await alice.SendAsync($$"""{"type":"ping","id":"{{id}}"}""");
            await alice.Socket.WaitUntilAsync(s => s.CloseCode is not null || s.Frames.Any(f => f.Contains($"\"{id}\"", StringComparison.Ordinal)), $"the reply to {id} or a close");
        }

        JsonElement limited = alice.Socket.OfType("error").Should().NotBeEmpty().And.Subject.First();
        Json.Str(limited, "code").Should().Be("rate_limited");
        Json.Id(limited).Should().Be("p4");
        alice.Socket.CloseCode.Should().Be(RelayCloseCodes.Flooding);
        alice.Socket.OfType("pong").Should().HaveCount(3);
        await bob.SyncAsync();
        bob.Socket.CloseCode.Should().BeNull("one connection's limit never affects another");
    }

    [Fact]
    public async Task ReceiveText_RateLimitDisabled_NeverLimited()
    {
        await using RelayTestHost host = RelayTestHost.Create(o =>
        {
            o.RateLimitEnabled = false;
            o.RateLimitBurst = 1;
        });
        TestConnection alice = await host.ConnectAsync("alice");

        for (int i = 0; i < 50; i++)
        {
            await alice.SendAsync("""{"type":"ping"}""");
        }

        await alice.SyncAsync();
        alice.Socket.OfType("pong").Should().HaveCount(51);
        alice.Socket.OfType("error").Should().BeEmpty();
    }

    [Fact]
    public async Task ReceiveClose_ClientStartsClose_QueuedFramesThenTheSameCodeAndNoAbort()
    {
        // A long CloseTimeout: answering a client's close must not wait for it.
        await using RelayTestHost host = RelayTestHost.Create(o => o.CloseTimeout = TimeSpan.FromMinutes(1));
        host.Group("team", "alice");
        TestConnection alice = await host.ConnectAsync("alice");
        alice.Socket.HoldSends();
        await alice.SendAsync("""{"type":"send","group":"team","id":"m","body":1}""");
        await alice.Socket.WaitForSendsStartedAsync(2);

        Task answered = alice.Session.ReceiveCloseAsync(4321);
        alice.Socket.ReleaseSends();
        await answered.WaitAsync(TestTimeouts.Default);

        alice.Socket.CloseCode.Should().Be(4321);
        alice.Socket.Events[^1].Should().Be("close:4321");
        alice.Socket.OfType("ack").Should().ContainSingle("frames queued before the client's close are still sent");
        alice.Socket.Aborted.Should().BeFalse();
        await alice.DisposeAsync();
        host.Presence.OnlineUserCount.Should().Be(0);
        alice.Socket.Aborted.Should().BeFalse();
    }

    [Theory]
    [InlineData(null, 1000)]
    [InlineData(1005, 1000)]
    [InlineData(1006, 1000)]
    [InlineData(999, 1000)]
    [InlineData(5000, 1000)]
    [InlineData(1001, 1001)]
    public async Task ReceiveClose_CodeThatMayNotBeSent_AnsweredWithNormalClosure(int? clientCode, int expected)
    {
        await using RelayTestHost host = RelayTestHost.Create(o => o.CloseTimeout = TimeSpan.FromMinutes(1));
        TestConnection alice = await host.ConnectAsync("alice");

        await alice.Session.ReceiveCloseAsync(clientCode).WaitAsync(TestTimeouts.Default);

        alice.Socket.CloseCode.Should().Be(expected);
    }

    [Fact]
    public async Task Close_ServerSide_FlushesThenClosesWithCode()
    {
        await using RelayTestHost host = RelayTestHost.Create();
        TestConnection alice = await host.ConnectAsync("alice");

        await alice.SendAsync("""{"type":"ping","id":"last"}""");
        alice.Session.Close(RelayCloseCodes.Normal, "bye");

        (await alice.Socket.WaitForCloseAsync()).Should().Be(RelayCloseCodes.Normal);
        alice.Socket.OfType("pong").Should().ContainSingle();
        await alice.SendAsync("""{"type":"ping","id":"ignored"}""");
        alice.Socket.OfType("pong").Should().ContainSingle("a closing connection handles no more requests");
    }

    [Fact]
    public async Task CloseAll_OpenConnections_EveryOneGets1001()
    {
        await using RelayTestHost host = RelayTestHost.Create(o => o.CloseTimeout = TimeSpan.FromSeconds(2));
        TestConnection[] connections = await Task.WhenAll(new[] { "alice", "alice", "bob" }.Select(u => host.ConnectAsync(u)));

        Task closing = host.Handler.CloseAllAsync();
        foreach (TestConnection connection in connections)
        {
            (await connection.Socket.WaitForCloseAsync()).Should().Be(RelayCloseCodes.GoingAway);
            await connection.DisposeAsync();
        }

        await closing.WaitAsync(TestTimeouts.Default);
        host.Handler.ConnectionCount.Should().Be(0);
    }

    [Fact]
    public async Task Route_OneSocketIsStuck_AnotherConnectionStillGetsEverything()
    {
        await using RelayTestHost host = RelayTestHost.Create(o => o.RateLimitEnabled = false);
        host.Group("team", "alice", "bob");
        TestConnection alice = await host.ConnectAsync("alice");
        TestConnection slowBob = await host.ConnectAsync("bob");
        TestConnection fastBob = await host.ConnectAsync("bob");
        slowBob.Socket.HoldSends();

        for (int i = 1; i <= 20; i++)
        {
            await alice.SendAsync($$"""{"type":"send","group":"team","body":{{i}}}""");
        }

        await fastBob.Socket.WaitUntilAsync(s => s.Frames.Count(f => f.Contains("\"message\"", StringComparison.Ordinal)) == 20, "20 messages");
        await alice.SyncAsync();
        slowBob.Messages().Should().BeEmpty("its writer is still stuck in the first send");
        slowBob.Socket.SendsStarted.Should().Be(2, "welcome, then the first stuck send");

        slowBob.Socket.ReleaseSends();
        await slowBob.SyncAsync();
        slowBob.Messages().Select(m => Json.Long(m, "seq")).Should().Equal(Enumerable.Range(1, 20).Select(i => (long)i));
    }

    [Fact]
    public async Task Route_SlowConsumer_ClosedWith4001WhileOthersKeepReceiving()
    {
        await using RelayTestHost host = RelayTestHost.Create(o =>
        {
            o.RateLimitEnabled = false;
            o.MaxQueueFrames = 5;
            o.SlowConsumerTimeout = TimeSpan.Zero; // bob's writer is stuck in a send: judged at once
        });
        host.Group("team", "alice", "bob", "carol");
        TestConnection alice = await host.ConnectAsync("alice");
        TestConnection bob = await host.ConnectAsync("bob");
        TestConnection carol = await host.ConnectAsync("carol");
        bob.Socket.HoldSends();

        // Carol reads each message before the next is sent, so only bob, who reads nothing, can fall behind
        // (with a bound of 5 frames, a burst of 10 would overflow any consumer). Alice sends without echo.
        for (int i = 1; i <= 10; i++)
        {
            await alice.SendAsync($$"""{"type":"send","group":"team","echo":false,"body":{{i}}}""");
            await carol.Socket.WaitUntilAsync(s => s.Frames.Count(f => f.Contains("\"message\"", StringComparison.Ordinal)) == i, $"message {i}");
            if (i == 1)
            {
                // Bob's writer must be stuck in its send of message 1 before the rest comes: a writer that woke late would
                // take them all into that one send, and none would wait in the queue.
                await bob.Socket.WaitForSendsStartedAsync(2);
            }
        }

        bob.Session.IsClosing.Should().BeTrue();
        bob.Socket.ReleaseSends();
        (await bob.Socket.WaitForCloseAsync()).Should().Be(RelayCloseCodes.SlowConsumer);
        await carol.SyncAsync();
        carol.Messages().Should().HaveCount(10);
        bob.Messages().Count.Should().BeLessThan(10);

        await bob.DisposeAsync();
        (await host.Relay.GetOnlineMembersAsync("team")).Should().BeEquivalentTo("alice", "carol");
        await alice.SendAsync("""{"type":"send","group":"team","echo":false,"body":11}""");
        await carol.SyncAsync();
        carol.Messages().Should().HaveCount(11);
    }
}
