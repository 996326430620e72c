using System.Collections.Generic;
using System.Linq;
using System.Text.Json;
using System.Threading.Tasks;
using FluentAssertions;
using GroupRelay.Core.Tests.Infrastructure;
using GroupRelay.Transports;
using Xunit;

namespace GroupRelay.Core.Tests;

/// <summary>The routing algorithm and the membership events, driven through RelayConnectionHandler with fake sockets.</summary>
public sealed class RelayRoutingTests
{
    private static string Send(string group, string? id = null, string body = """{"text":"hi"}""", bool? echo = null)
        => "{\"type\":\"send\",\"group\":\"" + group + "\"" + (id is null ? string.Empty : ",\"id\":\"" + id + "\"")
           + ",\"body\":" + body + (echo is null ? string.Empty : ",\"echo\":" + (echo.Value ? "true" : "false")) + "}";

    private static long[] Seqs(IEnumerable<JsonElement> messages) => messages.Select(m => Json.Long(m, "seq")).ToArray();

    [Fact]
    public async Task Accept_MemberOfGroups_WelcomeIsFirstFrameWithConnectionUserAndGroups()
    {
        await using RelayTestHost host = RelayTestHost.Create();
        host.Group("family", "alice");
        host.Group("team", "alice");

        TestConnection alice = await host.ConnectAsync("alice");
        await alice.SyncAsync();

        JsonElement welcome = alice.Socket.Parsed[0];
        Json.Type(welcome).Should().Be("welcome");
        Json.Str(welcome, "connectionId").Should().Be(alice.ConnectionId);
        Json.Str(welcome, "user").Should().Be("alice");
        welcome.GetProperty("groups").EnumerateArray().Select(g => g.GetString()).Should().BeEquivalentTo("family", "team");
        alice.Socket.OfType("welcome").Should().ContainSingle();
    }

    [Fact]
    public async Task Accept_TwoConnections_DistinctConnectionIds()
    {
        await using RelayTestHost host = RelayTestHost.Create();

        TestConnection first = await host.ConnectAsync("alice");
        TestConnection second = await host.ConnectAsync("alice");

        first.ConnectionId.Should().NotBe(second.ConnectionId);
        host.Handler.ConnectionCount.Should().Be(2);
    }

    [Fact]
    public async Task Send_SeveralMessages_SeqIncreasesPerGroupIndependently()
    {
        await using RelayTestHost host = RelayTestHost.Create();
        host.Group("team", "alice", "bob");
        host.Group("family", "alice", "bob");
        TestConnection alice = await host.ConnectAsync("alice");
        TestConnection bob = await host.ConnectAsync("bob");

        var teamAcks = new List<long>();
        var familyAcks = new List<long>();
        for (int i = 1; i <= 3; i++)
        {
            teamAcks.Add(Json.Long(await alice.RequestAsync(Send("team", "t" + i), "t" + i), "seq"));
            if (i <= 2)
            {
                familyAcks.Add(Json.Long(await alice.RequestAsync(Send("family", "f" + i), "f" + i), "seq"));
            }
        }

        teamAcks.Should().Equal(1, 2, 3);
        familyAcks.Should().Equal(1, 2);
        await bob.SyncAsync();
        Seqs(bob.Messages("team")).Should().Equal(1, 2, 3);
        Seqs(bob.Messages("family")).Should().Equal(1, 2);
    }

    [Fact]
    public async Task Send_ManyConcurrentSenders_EveryConnectionSeesStrictlyIncreasingSeqWithoutGaps()
    {
        await using RelayTestHost host = RelayTestHost.Create(o => o.RateLimitEnabled = false);
        string[] users = { "u1", "u2", "u3", "u4" };
        host.Group("team", users);
        TestConnection[] connections = await Task.WhenAll(users.Select(u => host.ConnectAsync(u)));

        await Task.WhenAll(connections.Select(c => Task.Run(async () =>
        {
            for (int i = 0; i < 50; i++)
            {
                await c.SendAsync(Send("team"));
            }
        }))).WaitAsync(TestTimeouts.Default);

        foreach (TestConnection connection in connections)
        {
            // A send that waited its turn behind another of the group is answered once published: its sender's loop may
            // return before its fan-out, so wait for the count, then check that nothing more came.
            await connection.Socket.WaitUntilAsync(s => s.OfType("message").Count >= 200, "200 messages");
            await connection.SyncAsync();
            Seqs(connection.Messages("team")).Should().Equal(Enumerable.Range(1, 200).Select(i => (long)i), $"{connection.User} gets every message once, in seq order");
        }
    }

    [Fact]
    public async Task Send_UserWithSeveralConnections_EveryConnectionGetsTheMessageExactlyOnce()
    {
        await using RelayTestHost host = RelayTestHost.Create();
        host.Group("team", "alice", "bob");
        host.Membership.SetGroups("carol", "other");
        TestConnection alice1 = await host.ConnectAsync("alice");
        TestConnection alice2 = await host.ConnectAsync("alice");
        TestConnection bob1 = await host.ConnectAsync("bob");
        TestConnection bob2 = await host.ConnectAsync("bob");
        TestConnection bob3 = await host.ConnectAsync("bob");
        TestConnection carol = await host.ConnectAsync("carol");

        await alice1.RequestAsync(Send("team", "m1"), "m1");

        foreach (TestConnection member in new[] { alice1, alice2, bob1, bob2, bob3 })
        {
            await member.SyncAsync();
            member.Messages("team").Should().ContainSingle($"{member.Socket.Name} is open and a member for the whole send");
            JsonElement message = member.Messages("team")[0];
            Json.Str(message, "from").Should().Be("alice");
            Json.Long(message, "seq").Should().Be(1);
            message.GetProperty("body").GetRawText().Should().Be("""{"text":"hi"}""");
        }

        await carol.SyncAsync();
        carol.Messages().Should().BeEmpty();
    }

    [Fact]
    public async Task Send_EchoFalse_AllButTheSendingConnection()
    {
        await using RelayTestHost host = RelayTestHost.Create();
        host.Group("team", "alice", "bob");
        TestConnection sender = await host.ConnectAsync("alice");
        TestConnection otherTab = await host.ConnectAsync("alice");
        TestConnection bob = await host.ConnectAsync("bob");

        JsonElement ack = await sender.RequestAsync(Send("team", "m1", echo: false), "m1");

        Json.Type(ack).Should().Be("ack");
        Json.Long(ack, "seq").Should().Be(1);
        await sender.SyncAsync();
        await otherTab.SyncAsync();
        await bob.SyncAsync();
        sender.Messages().Should().BeEmpty();
        otherTab.Messages().Should().ContainSingle();
        bob.Messages().Should().ContainSingle();
    }

    [Fact]
    public async Task Send_WithEcho_EchoArrivesBeforeTheAck()
    {
        await using RelayTestHost host = RelayTestHost.Create();
        host.Group("team", "alice");
        TestConnection alice = await host.ConnectAsync("alice");

        await alice.RequestAsync(Send("team", "m1"), "m1");

        List<string> types = alice.Socket.Parsed.Select(Json.Type).ToList();
        types.IndexOf("message").Should().BeGreaterThan(0).And.BeLessThan(types.IndexOf("ack"));
    }

    [Fact]
    public async Task Send_WithoutId_MessageButNoAck()
    {
        await using RelayTestHost host = RelayTestHost.Create();
        host.Group("team", "alice");
        TestConnection alice = await host.ConnectAsync("alice");

        await alice.SendAsync(Send("team"));
        await alice.SyncAsync();

        alice.Messages().Should().ContainSingle();
        alice.Socket.OfType("ack").Should().BeEmpty();
    }

    [Fact]
    public async Task Send_NotAMember_NotMemberErrorAndNothingDeliveredNorSequenced()
    {
        await using RelayTestHost host = RelayTestHost.Create();
        host.Group("ops", "bob");
        TestConnection alice = await host.ConnectAsync("alice");
        TestConnection bob = await host.ConnectAsync("bob");

        JsonElement error = await alice.RequestAsync(Send("ops", "m1"), "m1");

        Json.Type(error).Should().Be("error");
        Json.Str(error, "code").Should().Be("not_member");
        Json.Str(error, "message").Should().Contain("ops");
        await bob.SyncAsync();
        bob.Messages().Should().BeEmpty();
        Json.Long(await bob.RequestAsync(Send("ops", "b1"), "b1"), "seq").Should().Be(1, "a refused send takes no seq");
    }

    [Fact]
    public async Task Send_ClientSetsFromUserSeq_ServerStampsItsOwn()
    {
        await using RelayTestHost host = RelayTestHost.Create();
        host.Group("team", "alice", "bob");
        TestConnection alice = await host.ConnectAsync("alice");
        TestConnection bob = await host.ConnectAsync("bob");

        await alice.RequestAsync("""{"type":"send","id":"m","group":"team","from":"mallory","user":"mallory","seq":999,"body":1}""", "m");

        await bob.SyncAsync();
        JsonElement message = bob.Messages().Single();
        Json.Str(message, "from").Should().Be("alice");
        Json.Long(message, "seq").Should().Be(1);
        message.TryGetProperty("user", out _).Should().BeFalse();
    }

    [Fact]
    public async Task Send_NonCompactBody_DeliveredCompact()
    {
        await using RelayTestHost host = RelayTestHost.Create();
        host.Group("team", "alice");
        TestConnection alice = await host.ConnectAsync("alice");

        await alice.RequestAsync("{\"type\":\"send\",\"id\":\"m\",\"group\":\"team\",\"body\":{\n  \"text\" : \"a  b\"\n}}", "m");

        alice.Socket.Frames.Single(f => f.Contains("\"message\"", System.StringComparison.Ordinal))
            .Should().EndWith("\"body\":{\"text\":\"a  b\"}}");
    }

    [Fact]
    public async Task Publish_ServerSide_DeliveredWithNextSeqAndGivenFrom()
    {
        await using RelayTestHost host = RelayTestHost.Create();
        host.Group("team", "alice");
        TestConnection alice = await host.ConnectAsync("alice");
        await alice.RequestAsync(Send("team", "m1"), "m1");

        long seq = await host.Relay.PublishAsync("team", Json.Utf8("""{"text":"deploy at 5"}"""), "system").AsTask().WaitAsync(TestTimeouts.Default);

        seq.Should().Be(2);
        await alice.SyncAsync();
        JsonElement published = alice.Messages()[^1];
        Json.Str(published, "from").Should().Be("system");
        Json.Long(published, "seq").Should().Be(2);
    }

    [Fact]
    public async Task Members_MemberAsks_OnlineMembers()
    {
        await using RelayTestHost host = RelayTestHost.Create();
        host.Group("team", "alice", "bob", "carol");
        TestConnection alice = await host.ConnectAsync("alice");
        await host.ConnectAsync("bob");

        JsonElement members = await alice.RequestAsync("""{"type":"members","id":"q","group":"team"}""", "q");

        Json.Type(members).Should().Be("members");
        Json.Str(members, "group").Should().Be("team");
        members.GetProperty("online").EnumerateArray().Select(e => e.GetString()).Should().BeEquivalentTo("alice", "bob");
    }

    [Fact]
    public async Task Members_NotAMember_NotMember()
    {
        await using RelayTestHost host = RelayTestHost.Create();
        host.Group("team", "bob");
        await host.ConnectAsync("bob");
        TestConnection alice = await host.ConnectAsync("alice");

        JsonElement error = await alice.RequestAsync("""{"type":"members","id":"q","group":"team"}""", "q");

        Json.Str(error, "code").Should().Be("not_member");
    }

    [Fact]
    public async Task Ping_WithId_PongRepeatsId()
    {
        await using RelayTestHost host = RelayTestHost.Create();
        TestConnection alice = await host.ConnectAsync("alice");

        JsonElement pong = await alice.RequestAsync("""{"type":"ping","id":"p"}""", "p");

        Json.Type(pong).Should().Be("pong");
    }

    [Fact]
    public async Task Connect_FirstAndLastConnectionOfAMember_JoinedAndLeftOnceToTheOthers()
    {
        await using RelayTestHost host = RelayTestHost.Create();
        host.Group("team", "alice", "bob");
        TestConnection bob = await host.ConnectAsync("bob");

        TestConnection alice1 = await host.ConnectAsync("alice");
        TestConnection alice2 = await host.ConnectAsync("alice");
        await alice1.DisposeAsync();
        await bob.SyncAsync();
        bob.Socket.OfType("left").Should().BeEmpty("alice still has a connection open");
        await alice2.DisposeAsync();
        await bob.SyncAsync();

        JsonElement joined = bob.Socket.OfType("joined").Should().ContainSingle().Subject;
        Json.Str(joined, "group").Should().Be("team");
        Json.Str(joined, "user").Should().Be("alice");
        JsonElement left = bob.Socket.OfType("left").Should().ContainSingle().Subject;
        Json.Str(left, "group").Should().Be("team");
        Json.Str(left, "user").Should().Be("alice");
        alice1.Socket.OfType("joined").Should().BeEmpty("a user is not told about itself");
    }

    [Fact]
    public async Task Connect_JoinLeaveEventsOff_NoEvents()
    {
        await using RelayTestHost host = RelayTestHost.Create(o => o.SendJoinLeaveEvents = false);
        host.Group("team", "alice", "bob");
        TestConnection bob = await host.ConnectAsync("bob");

        TestConnection alice = await host.ConnectAsync("alice");
        await alice.DisposeAsync();
        await bob.SyncAsync();

        bob.Socket.OfType("joined").Should().BeEmpty();
        bob.Socket.OfType("left").Should().BeEmpty();
    }

    [Fact]
    public async Task AddUserToGroup_OnlineUser_AddedToItsConnectionsJoinedToOthersAndRoutingFollows()
    {
        await using RelayTestHost host = RelayTestHost.Create();
        host.Group("g3", "bob");
        TestConnection alice1 = await host.ConnectAsync("alice");
        TestConnection alice2 = await host.ConnectAsync("alice");
        TestConnection bob = await host.ConnectAsync("bob");

        (await host.Relay.AddUserToGroupAsync("alice", "g3").WaitAsync(TestTimeouts.Default)).Should().BeTrue();
        (await host.Relay.AddUserToGroupAsync("alice", "g3").WaitAsync(TestTimeouts.Default)).Should().BeFalse("already a member");

        foreach (TestConnection alice in new[] { alice1, alice2 })
        {
            JsonElement added = await alice.Socket.WaitForFrameAsync("added");
            Json.Str(added, "group").Should().Be("g3");
        }

        JsonElement joined = await bob.Socket.WaitForFrameAsync("joined");
        Json.Str(joined, "user").Should().Be("alice");
        Json.Long(await alice1.RequestAsync(Send("g3", "m1"), "m1"), "seq").Should().Be(1);
        await bob.SyncAsync();
        bob.Messages("g3").Should().ContainSingle();
        (await host.Relay.GetOnlineMembersAsync("g3")).Should().BeEquivalentTo("alice", "bob");
    }

    [Fact]
    public async Task AddUserToGroup_OfflineUser_False()
    {
        await using RelayTestHost host = RelayTestHost.Create();

        (await host.Relay.AddUserToGroupAsync("ghost", "g3").WaitAsync(TestTimeouts.Default)).Should().BeFalse();

        host.Directory.GroupCount.Should().Be(0);
    }

    [Fact]
    public async Task RemoveUserFromGroup_Member_RemovedLeftAndNoMoreMessages()
    {
        await using RelayTestHost host = RelayTestHost.Create();
        host.Group("g3", "alice", "bob");
        TestConnection alice = await host.ConnectAsync("alice");
        TestConnection bob = await host.ConnectAsync("bob");

        (await host.Relay.RemoveUserFromGroupAsync("alice", "g3").WaitAsync(TestTimeouts.Default)).Should().BeTrue();
        (await host.Relay.RemoveUserFromGroupAsync("alice", "g3").WaitAsync(TestTimeouts.Default)).Should().BeFalse();

        Json.Str(await alice.Socket.WaitForFrameAsync("removed"), "group").Should().Be("g3");
        Json.Str(await bob.Socket.WaitForFrameAsync("left"), "user").Should().Be("alice");
        await bob.RequestAsync(Send("g3", "b1"), "b1");
        await alice.SyncAsync();
        alice.Messages().Should().BeEmpty();
        Json.Str(await alice.RequestAsync(Send("g3", "a1"), "a1"), "code").Should().Be("not_member");
    }

    [Fact]
    public async Task Dispose_EveryConnection_DirectoryPresenceAndWatchersAreEmpty()
    {
        await using RelayTestHost host = RelayTestHost.Create();
        host.Group("team", "alice", "bob", "carol");
        host.Group("family", "alice", "dave");
        host.Membership.AddContacts("alice", "bob", "dave");
        var connections = new List<TestConnection>();
        foreach (string user in new[] { "alice", "alice", "bob", "carol", "dave", "dave" })
        {
            connections.Add(await host.ConnectAsync(user));
        }

        await connections[0].RequestAsync("""{"type":"watch","id":"w","users":["bob","dave","carol"]}""", "w");
        await connections[0].RequestAsync(Send("team", "m"), "m");
        host.Directory.GroupCount.Should().Be(2);

        await Task.WhenAll(connections.Select(c => c.DisposeAsync().AsTask()));

        host.Directory.GroupCount.Should().Be(0);
        host.Directory.UserCount.Should().Be(0);
        host.Presence.OnlineUserCount.Should().Be(0);
        host.Handler.ConnectionCount.Should().Be(0);
        (await host.Relay.GetOnlineUsersAsync()).Should().BeEmpty();
        (await host.Relay.GetPresenceAsync("alice")).Should().Be(PresenceState.Offline);
    }

    [Fact]
    public async Task Dispose_ConnectAndDisconnectRacingForOneUser_NothingLeftBehind()
    {
        await using RelayTestHost host = RelayTestHost.Create();
        host.Group("team", "alice");
        host.Group("team", "bob");
        TestConnection bob = await host.ConnectAsync("bob");

        await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            for (int i = 0; i < 25; i++)
            {
                TestConnection alice = await host.ConnectAsync("alice");
                await alice.DisposeAsync();
            }
        }))).WaitAsync(TestTimeouts.Default * 3);

        (await host.Relay.GetOnlineMembersAsync("team")).Should().Equal("bob");
        host.Presence.OnlineUserCount.Should().Be(1);
        await bob.SyncAsync();
        bob.Socket.OfType("joined").Count.Should().Be(bob.Socket.OfType("left").Count, "every joined has its left");
    }

    [Fact]
    public async Task Watch_ContactComesOnlineAndChangesStatus_PresenceEvents()
    {
        await using RelayTestHost host = RelayTestHost.Create();
        host.Membership.AddContacts("alice", "bob");
        TestConnection alice = await host.ConnectAsync("alice");

        JsonElement result = await alice.RequestAsync("""{"type":"watch","id":"p1","users":["bob","mallory"]}""", "p1");
        Json.Type(result).Should().Be("presence");
        result.GetProperty("online").GetArrayLength().Should().Be(0);
        result.GetProperty("offline").EnumerateArray().Select(e => e.GetString()).Should().Equal("bob");
        result.GetProperty("forbidden").EnumerateArray().Select(e => e.GetString()).Should().Equal("mallory");

        TestConnection bob = await host.ConnectAsync("bob");
        await bob.RequestAsync("""{"type":"status","id":"s","value":"away"}""", "s");
        await bob.DisposeAsync();
        await alice.SyncAsync();

        var events = alice.Socket.OfType("presence").Where(f => Json.Id(f) is null).ToList();
        events.Select(e => (Json.Str(e, "user"), e.GetProperty("online").GetBoolean(), Json.Str(e, "status")))
            .Should().Equal(("bob", true, (string?)null), ("bob", true, "away"), ("bob", false, (string?)null));
    }
}
