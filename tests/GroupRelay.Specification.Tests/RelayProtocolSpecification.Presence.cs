using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.Json;
using System.Threading.Tasks;
using FluentAssertions;
using Xunit;

namespace GroupRelay.Specification.Tests;

/// <summary>PROTOCOL.md section 3: <c>watch</c>, <c>unwatch</c>, <c>status</c>, <c>members</c>, and <c>joined</c>/<c>left</c>.</summary>
public abstract partial class RelayProtocolSpecification
{
    [Fact]
    public async Task Joined_FirstConnectionOfAUser_OtherOnlineMembersGetJoined_SecondConnectionDoesNot()
    {
        Group("team", "alice", "bob", "carol");
        Group("other", "dave");
        await StartAsync();
        RelayTestClient alice = await ConnectAsync("alice");
        RelayTestClient dave = await ConnectAsync("dave");

        RelayTestClient bob1 = await ConnectAsync("bob");

        JsonElement joined = await alice.ExpectAsync("joined");
        joined.GetProperty("group").GetString().Should().Be("team");
        joined.GetProperty("user").GetString().Should().Be("bob");
        await ExpectNothingAsync(bob1, "joined", "a user is not told about its own coming online");

        RelayTestClient bob2 = await ConnectAsync("bob");
        await ExpectNothingAsync(alice, "joined", "bob was online already");
        await ExpectNothingAsync(bob1, "joined");
        await ExpectNothingAsync(dave, "joined", "dave is in another group");
    }

    [Fact]
    public async Task Left_LastConnectionOfAUserCloses_OtherOnlineMembersGetLeft()
    {
        Group("team", "alice", "bob");
        Group("family", "alice", "bob");
        Group("other", "dave");
        await StartAsync();
        RelayTestClient alice = await ConnectAsync("alice");
        RelayTestClient dave = await ConnectAsync("dave");
        RelayTestClient bob1 = await ConnectAsync("bob");
        RelayTestClient bob2 = await ConnectAsync("bob");
        await alice.CollectAsync("joined", 2);

        await bob1.CloseAsync();
        await ExpectNothingAsync(alice, "left", "bob still has a connection");

        await bob2.CloseAsync();
        List<JsonElement> left = await alice.CollectAsync("left", 2);
        left.Select(l => l.GetProperty("group").GetString()).Should().BeEquivalentTo("team", "family");
        left.Should().AllSatisfy(l => l.GetProperty("user").GetString().Should().Be("bob"));
        await ExpectNothingAsync(dave, "left");
    }

    [Fact]
    public async Task JoinedAndLeft_SwitchedOffInOptions_AreNotSent()
    {
        Group("team", "alice", "bob");
        await StartAsync(o => o.SendJoinLeaveEvents = false);
        RelayTestClient alice = await ConnectAsync("alice");

        RelayTestClient bob = await ConnectAsync("bob");
        await bob.CloseAsync();

        // Bob's going offline is complete once the server no longer lists him.
        (await EventuallyAsync(async () => !(await Server.Relay.GetPresenceAsync("bob")).IsOnline)).Should().BeTrue();
        List<JsonElement> frames = await SettleAsync(alice);
        frames.Select(Type).Should().NotContain(new[] { "joined", "left" });
    }

    [Fact]
    public async Task Members_ForAMember_ListsTheOnlineMembers()
    {
        Group("team", "alice", "bob", "carol", "erin");
        await StartAsync();
        RelayTestClient alice = await ConnectAsync("alice");
        await ConnectAsync("bob");
        await ConnectAsync("bob");
        RelayTestClient carol = await ConnectAsync("carol");
        await carol.CloseAsync();
        (await EventuallyAsync(async () => !(await Server.Relay.GetOnlineMembersAsync("team")).Contains("carol"))).Should().BeTrue();

        JsonElement reply = await alice.RequestAsync(Req("members", ("id", "q"), ("group", "team")));

        Type(reply).Should().Be("members");
        reply.GetProperty("id").GetString().Should().Be("q");
        reply.GetProperty("group").GetString().Should().Be("team");
        Strings(reply.GetProperty("online")).Should().BeEquivalentTo("alice", "bob");
    }

    [Fact]
    public async Task Members_ForANonMember_IsNotMember()
    {
        Group("ops", "bob");
        Group("team", "alice");
        await StartAsync();
        RelayTestClient alice = await ConnectAsync("alice");
        await ConnectAsync("bob");

        JsonElement reply = await alice.RequestAsync(Req("members", ("id", "q"), ("group", "ops")));

        Type(reply).Should().Be("error");
        reply.GetProperty("code").GetString().Should().Be("not_member");
        reply.GetProperty("id").GetString().Should().Be("q");
        reply.TryGetProperty("online", out _).Should().BeFalse();
    }

    [Fact]
    public async Task Members_WithoutGroup_IsBadRequest()
    {
        Group("team", "alice");
        await StartAsync();
        RelayTestClient alice = await ConnectAsync("alice");

        JsonElement reply = await alice.RequestAsync(Req("members", ("id", "q")));

        Type(reply).Should().Be("error");
        reply.GetProperty("code").GetString().Should().Be("bad_request");
        reply.GetProperty("id").GetString().Should().Be("q");
    }

    [Fact]
    public async Task Watch_ResultListsOnlineWithStatus_OfflineAndForbidden_PerDefaultPolicy()
    {
        // bob: a contact, online with a status. carol: a co-member, offline. dave: a co-member, online.
        // erin: a contact, offline. mallory: online, shares nothing with alice. zed: unknown to everyone.
        Group("team", "alice", "carol", "dave");
        Group("ops", "mallory");
        Server.Membership.AddContacts("alice", "bob", "erin");
        await StartAsync();
        RelayTestClient alice = await ConnectAsync("alice");
        RelayTestClient bob = await ConnectAsync("bob");
        await ConnectAsync("dave");
        await ConnectAsync("mallory");
        Type(await bob.RequestAsync(Req("status", ("value", "away")))).Should().Be("ack");

        JsonElement result = await alice.RequestAsync(Req("watch", ("id", "p1"), ("users", new[] { "bob", "carol", "dave", "erin", "mallory", "zed", "alice" })));

        Type(result).Should().Be("presence");
        result.GetProperty("id").GetString().Should().Be("p1");
        var online = result.GetProperty("online").EnumerateArray().ToDictionary(e => e.GetProperty("user").GetString()!, e => e.GetProperty("status"));
        online.Keys.Should().BeEquivalentTo("bob", "dave", "alice");
        online["bob"].GetString().Should().Be("away");
        online["dave"].ValueKind.Should().Be(JsonValueKind.Null);
        Strings(result.GetProperty("offline")).Should().BeEquivalentTo("carol", "erin");
        Strings(result.GetProperty("forbidden")).Should().BeEquivalentTo("mallory", "zed");
    }

    [Fact]
    public async Task Watch_WhenTheHostFails_IsInternalErrorThatRevealsNothing_AndConnectionStaysUsable()
    {
        Server.Membership.AddContacts("alice", "bob");
        await StartAsync();
        RelayTestClient alice = await ConnectAsync("alice");
        Server.MembershipSource.FailContactsFor("alice");

        JsonElement reply = await alice.RequestAsync(Req("watch", ("id", "w1"), ("users", new[] { "bob" })));

        Type(reply).Should().Be("error");
        reply.GetProperty("code").GetString().Should().Be("internal");
        reply.GetProperty("id").GetString().Should().Be("w1");
        string message = reply.GetProperty("message").GetString()!;
        message.Should().NotContain("membership source fails").And.NotContain("Exception").And.NotContain(" at ");
        Type(await alice.RequestAsync(Req("ping"))).Should().Be("pong");
    }

    [Fact]
    public async Task Watch_ThenChanges_WatcherGetsPresenceEventsOnOnlineOfflineAndStatus()
    {
        Group("team", "alice", "carol");
        Server.Membership.AddContacts("alice", "bob");
        await StartAsync();
        RelayTestClient alice = await ConnectAsync("alice");
        RelayTestClient bob = await ConnectAsync("bob");
        Type(await alice.RequestAsync(Req("watch", ("users", new[] { "bob", "carol" })))).Should().Be("presence");

        Type(await bob.RequestAsync(Req("status", ("value", "busy")))).Should().Be("ack");
        JsonElement busy = await alice.ExpectAsync("presence");
        busy.GetProperty("user").GetString().Should().Be("bob");
        busy.GetProperty("online").GetBoolean().Should().BeTrue();
        busy.GetProperty("status").GetString().Should().Be("busy");

        RelayTestClient carol = await ConnectAsync("carol");
        JsonElement carolOnline = await alice.ExpectAsync("presence");
        carolOnline.GetProperty("user").GetString().Should().Be("carol");
        carolOnline.GetProperty("online").GetBoolean().Should().BeTrue();
        carolOnline.GetProperty("status").ValueKind.Should().Be(JsonValueKind.Null);

        await bob.CloseAsync();
        JsonElement bobOffline = await alice.ExpectAsync("presence");
        bobOffline.GetProperty("user").GetString().Should().Be("bob");
        bobOffline.GetProperty("online").GetBoolean().Should().BeFalse();
        bobOffline.GetProperty("status").ValueKind.Should().Be(JsonValueKind.Null);
        bobOffline.TryGetProperty("id", out _).Should().BeFalse("events are not replies");

        RelayTestClient bobAgain = await ConnectAsync("bob");
        JsonElement bobBack = await alice.ExpectAsync("presence");
        bobBack.GetProperty("user").GetString().Should().Be("bob");
        bobBack.GetProperty("online").GetBoolean().Should().BeTrue();
        bobBack.GetProperty("status").ValueKind.Should().Be(JsonValueKind.Null, "a status does not outlive the user's last connection");
        await ExpectNothingAsync(alice, "presence");
    }

    [Fact]
    public async Task Watch_ForbiddenUser_NeverRevealsItsState()
    {
        Group("team", "alice");
        Group("ops", "mallory");
        await StartAsync();
        RelayTestClient alice = await ConnectAsync("alice");
        RelayTestClient mallory = await ConnectAsync("mallory");

        JsonElement result = await alice.RequestAsync(Req("watch", ("users", new[] { "mallory" })));

        Strings(result.GetProperty("forbidden")).Should().Equal("mallory");
        result.GetProperty("online").GetArrayLength().Should().Be(0);
        result.GetProperty("offline").GetArrayLength().Should().Be(0);
        Type(await mallory.RequestAsync(Req("status", ("value", "secret")))).Should().Be("ack");
        await mallory.CloseAsync();
        (await EventuallyAsync(async () => !(await Server.Relay.GetPresenceAsync("mallory")).IsOnline)).Should().BeTrue();
        RelayTestClient malloryAgain = await ConnectAsync("mallory");
        await ExpectNothingAsync(alice, "presence", "a forbidden user's changes are never pushed");
        await malloryAgain.CloseAsync();
    }

    [Fact]
    public async Task Unwatch_IsAcked_AndNoMoreEventsArrive()
    {
        Server.Membership.AddContacts("alice", "bob");
        await StartAsync();
        RelayTestClient alice = await ConnectAsync("alice");
        RelayTestClient bob = await ConnectAsync("bob");
        await alice.RequestAsync(Req("watch", ("users", new[] { "bob" })));

        JsonElement ack = await alice.RequestAsync(Req("unwatch", ("id", "u1"), ("users", new[] { "bob" })));

        Type(ack).Should().Be("ack");
        ack.GetProperty("id").GetString().Should().Be("u1");
        Type(await bob.RequestAsync(Req("status", ("value", "away")))).Should().Be("ack");
        await bob.CloseAsync();
        (await EventuallyAsync(async () => !(await Server.Relay.GetPresenceAsync("bob")).IsOnline)).Should().BeTrue();
        await ExpectNothingAsync(alice, "presence");
    }

    [Fact]
    public async Task Watch_MoreThan1000UsersInOneRequest_IsBadRequest()
    {
        await StartAsync();
        RelayTestClient alice = await ConnectAsync("alice");

        JsonElement reply = await alice.RequestAsync(Req("watch", ("id", "big"), ("users", Enumerable.Range(0, 1001).Select(i => "u" + i).ToArray())));

        Type(reply).Should().Be("error");
        reply.GetProperty("code").GetString().Should().Be("bad_request");
        reply.GetProperty("id").GetString().Should().Be("big");
        Type(await alice.RequestAsync(Req("watch", ("users", Enumerable.Range(0, 1000).Select(i => "u" + i).ToArray())))).Should().Be("presence", "1,000 is the limit, not over it");
    }

    [Fact]
    public async Task Watch_BeyondMaxWatchedUsersPerConnection_IsBadRequest()
    {
        // Contacts, so every one of them is really watched (forbidden users are not).
        Server.Membership.AddContacts("alice", "u1", "u2", "u3", "u4", "u5", "u6");
        await StartAsync(o =>
        {
            o.MaxWatchedUsers = 5;
            o.MaxWatchPerRequest = 5;
        });
        RelayTestClient alice = await ConnectAsync("alice");
        Type(await alice.RequestAsync(Req("watch", ("users", new[] { "u1", "u2", "u3" })))).Should().Be("presence");

        JsonElement reply = await alice.RequestAsync(Req("watch", ("id", "w2"), ("users", new[] { "u1", "u4", "u5", "u6" })));

        Type(reply).Should().Be("error");
        reply.GetProperty("code").GetString().Should().Be("bad_request");
        reply.GetProperty("id").GetString().Should().Be("w2");
        Type(await alice.RequestAsync(Req("watch", ("users", new[] { "u1", "u4", "u5" })))).Should().Be("presence", "watching one already watched and two new ones stays within 5");
    }

    [Fact]
    public async Task Status_IsAcked_AndWatchersGetAPresenceEvent_NullClearsIt()
    {
        Server.Membership.AddContacts("alice", "bob");
        await StartAsync();
        RelayTestClient alice = await ConnectAsync("alice");
        RelayTestClient bob = await ConnectAsync("bob");
        await alice.RequestAsync(Req("watch", ("users", new[] { "bob" })));

        JsonElement ack = await bob.RequestAsync(Req("status", ("id", "s1"), ("value", "away")));

        Type(ack).Should().Be("ack");
        ack.GetProperty("id").GetString().Should().Be("s1");
        JsonElement away = await alice.ExpectAsync("presence");
        away.GetProperty("user").GetString().Should().Be("bob");
        away.GetProperty("online").GetBoolean().Should().BeTrue();
        away.GetProperty("status").GetString().Should().Be("away");

        Type(await bob.RequestAsync(Req("status", ("value", null)))).Should().Be("ack");
        JsonElement cleared = await alice.ExpectAsync("presence");
        cleared.GetProperty("online").GetBoolean().Should().BeTrue();
        cleared.GetProperty("status").ValueKind.Should().Be(JsonValueKind.Null);
        (await Server.Relay.GetPresenceAsync("bob").AsTask().WaitAsync(Timeout)).Status.Should().BeNull();
    }

    [Fact]
    public async Task Status_ValueOf32Chars_IsAccepted_33Chars_IsBadRequest()
    {
        Server.Membership.AddContacts("alice", "bob");
        await StartAsync();
        RelayTestClient alice = await ConnectAsync("alice");
        RelayTestClient bob = await ConnectAsync("bob");
        await alice.RequestAsync(Req("watch", ("users", new[] { "bob" })));
        string max = new('s', 32);

        Type(await bob.RequestAsync(Req("status", ("value", max)))).Should().Be("ack");
        (await alice.ExpectAsync("presence")).GetProperty("status").GetString().Should().Be(max);

        JsonElement reply = await bob.RequestAsync(Req("status", ("id", "long"), ("value", new string('s', 33))));
        Type(reply).Should().Be("error");
        reply.GetProperty("code").GetString().Should().Be("bad_request");
        reply.GetProperty("id").GetString().Should().Be("long");
        JsonElement empty = await bob.RequestAsync(Req("status", ("value", "")));
        empty.GetProperty("code").GetString().Should().Be("bad_request", "a status is 1 to 32 characters");
        await ExpectNothingAsync(alice, "presence", "a refused status changes nothing");
        (await Server.Relay.GetPresenceAsync("bob").AsTask().WaitAsync(Timeout)).Status.Should().Be(max);
    }
}
