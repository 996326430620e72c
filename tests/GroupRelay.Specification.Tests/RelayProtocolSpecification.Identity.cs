using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using System.Net.WebSockets;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using FluentAssertions;
using Xunit;

namespace GroupRelay.Specification.Tests;

/// <summary>PROTOCOL.md section 2: identity at the handshake, membership from the host, welcome, several connections per user.</summary>
public abstract partial class RelayProtocolSpecification
{
    [Fact]
    public async Task Connect_Authenticated_WelcomeIsFirstFrameWithUserAndGroups()
    {
        Group("team", "alice");
        Group("family", "alice");
        await StartAsync();

        RelayTestClient alice = await ConnectAsync("alice");

        alice.Welcome.GetProperty("user").GetString().Should().Be("alice");
        alice.Welcome.GetProperty("connectionId").GetString().Should().NotBeNullOrEmpty();
        Strings(alice.Welcome.GetProperty("groups")).Should().BeEquivalentTo("team", "family");
    }

    [Fact]
    public async Task Welcome_IsSentOnlyOnceTheConnectionIsRegistered_SoWhatIsSentNextReachesIt()
    {
        Group("team", "alice", "late");
        await StartAsync();
        RelayTestClient alice = await ConnectAsync("alice");
        Server.DelayRegistrationOf("late", TimeSpan.FromMilliseconds(500));

        RelayTestClient late = await ConnectAsync("late");

        (await Server.Relay.GetPresenceAsync("late").AsTask().WaitAsync(Timeout)).IsOnline.Should().BeTrue("the online list holds the connection before its welcome");
        JsonElement ack = await SendToGroupAsync(alice, "team", "right after welcome");
        (await late.ExpectAsync("message")).GetProperty("seq").GetInt64().Should().Be(ack.GetProperty("seq").GetInt64());
    }

    [Fact]
    public async Task Connect_UserInNoGroup_WelcomeHasEmptyGroups()
    {
        await StartAsync();

        RelayTestClient loner = await ConnectAsync("loner");

        loner.Welcome.GetProperty("groups").GetArrayLength().Should().Be(0);
    }

    [Fact]
    public async Task Connect_Anonymous_IsRefused()
    {
        Group("team", "alice");
        await StartAsync();
        RelayTestClient alice = await ConnectAsync("alice");

        if (Server.RefusesAtHandshake)
        {
            using var socket = new ClientWebSocket();
            socket.Options.CollectHttpResponseDetails = true;
            using var timeout = new System.Threading.CancellationTokenSource(Timeout);
            Func<Task> connect = () => socket.ConnectAsync(Server.UriFor("!anonymous"), timeout.Token);
            await connect.Should().ThrowAsync<WebSocketException>();
            socket.HttpStatusCode.Should().Be(HttpStatusCode.Unauthorized);
        }
        else
        {
            RelayTestClient anonymous = await ConnectAsync("!anonymous", waitForWelcome: false);
            (await anonymous.WaitForCloseAsync()).Should().Be(RelayCloseCodes.Unauthorized);
            anonymous.Socket.CloseStatusDescription.Should().Be("unauthorized");
            anonymous.TryReadNow(out _).Should().BeFalse("a refused connection gets no welcome");
        }

        (await alice.RequestAsync(Req("ping"))).GetProperty("type").GetString().Should().Be("pong", "a refused login affects nobody else");
    }

    [Fact]
    public async Task Connect_ManyConnections_ConnectionIdsInWelcomeAreUnique()
    {
        await StartAsync();
        var ids = new List<string>();
        for (int i = 0; i < 12; i++)
        {
            RelayTestClient client = await ConnectAsync(i % 3 == 0 ? "same" : "user" + i);
            ids.Add(client.Welcome.GetProperty("connectionId").GetString()!);
        }

        ids.Should().OnlyHaveUniqueItems();
    }

    [Fact]
    public async Task Connect_MembershipSourceFails_ConnectionClosesWith1011_OthersUnaffected()
    {
        Group("team", "alice", "bob", "broken");
        await StartAsync();
        RelayTestClient alice = await ConnectAsync("alice");
        RelayTestClient bob = await ConnectAsync("bob");
        await alice.ExpectAsync("joined");
        Server.MembershipSource.FailFor("broken");

        RelayTestClient broken = await ConnectAsync("broken", waitForWelcome: false);

        (await broken.WaitForCloseAsync()).Should().Be(RelayCloseCodes.InternalError);
        broken.TryReadNow(out _).Should().BeFalse("no welcome when membership is unknown");
        await AssertStillRoutesAsync(alice, bob, "team");
        await ExpectNothingAsync(alice, "joined", "a connection that never registered never comes online");
    }

    [Fact]
    public async Task Connect_MembershipSourceTimesOut_ConnectionClosesWith1011_OthersUnaffected()
    {
        Group("team", "alice", "bob", "slow");
        await StartAsync(o => o.MembershipTimeout = TimeSpan.FromMilliseconds(300));
        RelayTestClient alice = await ConnectAsync("alice");
        RelayTestClient bob = await ConnectAsync("bob");
        await alice.ExpectAsync("joined");
        Server.MembershipSource.HangFor("slow");

        RelayTestClient slow = await ConnectAsync("slow", waitForWelcome: false);

        (await slow.WaitForCloseAsync()).Should().Be(RelayCloseCodes.InternalError);
        slow.TryReadNow(out _).Should().BeFalse();
        await AssertStillRoutesAsync(alice, bob, "team");
        await ExpectNothingAsync(alice, "joined", "a connection that never registered never comes online");
        (await Server.Relay.GetPresenceAsync("slow").AsTask().WaitAsync(Timeout)).IsOnline.Should().BeFalse();
    }

    /// <summary>
    /// Issue 11 #3: a membership source that ignores its token, or blocks its thread, is not waited for past
    /// MembershipTimeout: 1011 at the timeout, and its late answer registers nothing.
    /// </summary>
    [Theory]
    [InlineData("ignores its token")]
    [InlineData("blocks its thread")]
    public async Task Connect_UncooperativeMembershipSource_ClosesWith1011AtTheTimeout_LateAnswerRegistersNothing(string how)
    {
        Group("team", "alice", "bob", "slow");
        await StartAsync(o => o.MembershipTimeout = TimeSpan.FromMilliseconds(300));
        RelayTestClient alice = await ConnectAsync("alice");
        RelayTestClient bob = await ConnectAsync("bob");
        await alice.ExpectAsync("joined");
        var released = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var releasedEvent = new ManualResetEventSlim();
        if (how == "blocks its thread")
        {
            Server.MembershipSource.BlockUntil("slow", releasedEvent);
        }
        else
        {
            Server.MembershipSource.IgnoreTokenUntil("slow", released.Task);
        }

        try
        {
            RelayTestClient slow = await ConnectAsync("slow", waitForWelcome: false);

            (await slow.WaitForCloseAsync()).Should().Be(RelayCloseCodes.InternalError);
            slow.TryReadNow(out _).Should().BeFalse("no welcome, before or after the source answers");
        }
        finally
        {
            released.TrySetResult();
            releasedEvent.Set();
        }

        await ExpectNothingAsync(alice, "joined", "the late answer registers nothing");
        (await Server.Relay.GetPresenceAsync("slow").AsTask().WaitAsync(Timeout)).IsOnline.Should().BeFalse();
        await AssertStillRoutesAsync(alice, bob, "team");
    }

    [Fact]
    public async Task Online_WhileAtLeastOneConnectionIsOpen()
    {
        Group("team", "alice", "bob");
        await StartAsync();
        RelayTestClient alice = await ConnectAsync("alice");
        RelayTestClient bob1 = await ConnectAsync("bob");
        RelayTestClient bob2 = await ConnectAsync("bob");

        await bob1.CloseAsync();
        await ExpectNothingAsync(alice, "left", "bob still has a connection");
        (await Server.Relay.GetPresenceAsync("bob").AsTask().WaitAsync(Timeout)).IsOnline.Should().BeTrue();
        (await alice.RequestAsync(Req("members", ("group", "team")))).GetProperty("online").EnumerateArray().Select(e => e.GetString()).Should().Contain("bob");

        await bob2.CloseAsync();
        (await alice.ExpectAsync("left")).GetProperty("user").GetString().Should().Be("bob");
        (await Server.Relay.GetPresenceAsync("bob").AsTask().WaitAsync(Timeout)).IsOnline.Should().BeFalse();
    }

    private static async Task AssertStillRoutesAsync(RelayTestClient from, RelayTestClient to, string group)
    {
        JsonElement ack = await from.RequestAsync(Req("send", ("group", group), ("body", "still here")));
        Type(ack).Should().Be("ack");
        (await to.ExpectAsync("message", m => m.GetProperty("seq").GetInt64() == ack.GetProperty("seq").GetInt64())).GetProperty("from").GetString().Should().Be(from.User);
    }

    [Fact]
    public async Task Connect_AUserTheHostNoLongerKnows_IsRefusedAsUnauthorized_AtTheHandshakeOrWith4003_OthersAreServed()
    {
        Group("team", "alice", "ghost");
        Server.MembershipSource.UnknownUser("ghost");
        await StartAsync();

        RelayTestClient alice = await ConnectAsync("alice");
        alice.Welcome.GetProperty("user").GetString().Should().Be("alice");
        if (Server.RefusesAtHandshake)
        {
            Func<Task> connect = () => ConnectAsync("ghost", waitForWelcome: false, configure: o => o.CollectHttpResponseDetails = true);
            (await connect.Should().ThrowAsync<System.Net.WebSockets.WebSocketException>()).Which.Message.Should().Contain("401");
        }
        else
        {
            RelayTestClient ghost = await ConnectAsync("ghost", waitForWelcome: false);
            (await ghost.WaitForCloseAsync()).Should().Be(RelayCloseCodes.Unauthorized);
        }

        (await Server.Relay.GetPresenceAsync("ghost")).IsOnline.Should().BeFalse();
    }
}
