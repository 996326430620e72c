using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Text.Json;
using System.Threading.Tasks;
using FluentAssertions;
using GroupRelay.Core.Tests.Infrastructure;
using Xunit;

namespace GroupRelay.Core.Tests;

/// <summary>Presence requests, membership loaded at connect, and the server API's argument checks.</summary>
public sealed class RelayPresenceAndMembershipTests
{
    [Fact]
    public async Task Connect_MembershipChangedWhileOnline_OtherConnectionsFollowWithAddedAndRemoved()
    {
        await using RelayTestHost host = RelayTestHost.Create();
        host.Membership.SetGroups("alice", "old");
        host.Membership.SetGroups("bob", "old", "new");
        TestConnection bob = await host.ConnectAsync("bob");
        TestConnection alice1 = await host.ConnectAsync("alice");

        host.Membership.SetGroups("alice", "new");
        TestConnection alice2 = await host.ConnectAsync("alice");
        await alice1.SyncAsync();
        await bob.SyncAsync();

        alice2.Socket.Parsed[0].GetProperty("groups").EnumerateArray().Select(g => g.GetString()).Should().Equal("new");
        Json.Str(alice1.Socket.OfType("added").Should().ContainSingle().Subject, "group").Should().Be("new");
        Json.Str(alice1.Socket.OfType("removed").Should().ContainSingle().Subject, "group").Should().Be("old");
        alice2.Socket.OfType("added").Should().BeEmpty("its welcome already says so");
        (await host.Directory.GetGroupsAsync("alice")).Should().Equal("new");
        bob.Socket.OfType("left").Select(f => Json.Str(f, "group")).Should().Equal("old");
    }

    [Fact]
    public async Task Connect_SourceReturnsInvalidOrDuplicateGroupIds_TheyAreLeftOut()
    {
        await using RelayTestHost host = RelayTestHost.Create(o => o.MaxIdLength = 8);
        host.Membership.SetGroups("alice", "ok", string.Empty, "123456789", "ok2");

        TestConnection alice = await host.ConnectAsync("alice");

        alice.Socket.Parsed[0].GetProperty("groups").EnumerateArray().Select(g => g.GetString()).Should().Equal("ok", "ok2");
        (await host.Directory.GetGroupsAsync("alice")).Should().BeEquivalentTo("ok", "ok2");
    }

    [Fact]
    public async Task Connect_SourceReturnsMoreThanMaxGroupsPerUser_ThatConnectionIsClosedWith1011_OthersAreServed()
    {
        await using RelayTestHost host = RelayTestHost.Create(o => o.MaxGroupsPerUser = 10);
        host.Membership.SetGroups("alice", Enumerable.Range(0, 11).Select(i => "g" + i).ToArray());
        host.Membership.SetGroups("bob", Enumerable.Range(0, 10).Select(i => "g" + i).ToArray());

        TestConnection alice = await host.ConnectAsync("alice", waitForWelcome: false);
        TestConnection bob = await host.ConnectAsync("bob");

        (await alice.Socket.WaitForCloseAsync()).Should().Be(RelayCloseCodes.InternalError);
        alice.Socket.CloseReason.Should().Be("too many groups");
        alice.Socket.OfType("welcome").Should().BeEmpty();
        (await host.Directory.GetGroupsAsync("alice")).Should().BeEmpty("nothing was built from the answer");
        bob.Socket.Parsed[0].GetProperty("groups").GetArrayLength().Should().Be(10, "a user at the bound is served");
    }

    [Fact]
    public async Task Connect_SourceSaysTheUserIsUnknown_RefusedAsUnauthorizedWith4003_NothingRegistered()
    {
        var source = new UnknownUsersSource("ghost");
        await using RelayTestHost host = RelayTestHost.Create(membership: source);

        TestConnection ghost = await host.ConnectAsync("ghost", waitForWelcome: false);
        TestConnection alice = await host.ConnectAsync("alice");

        (await ghost.Socket.WaitForCloseAsync()).Should().Be(RelayCloseCodes.Unauthorized);
        ghost.Socket.CloseReason.Should().Be("unknown user");
        ghost.Socket.OfType("welcome").Should().BeEmpty();
        (await host.Relay.GetPresenceAsync("ghost")).IsOnline.Should().BeFalse();
        alice.Socket.OfType("welcome").Should().ContainSingle("a known user is served as before");
    }

    [Fact]
    public async Task Watch_OfAUserTheSourceDoesNotKnow_IsForbidden_NotAFailedRequest()
    {
        await using RelayTestHost host = RelayTestHost.Create(membership: new UnknownUsersSource("ghost"));
        TestConnection alice = await host.ConnectAsync("alice");

        System.Text.Json.JsonElement result = await alice.RequestAsync("""{"type":"watch","id":"w","users":["ghost"]}""", "w");

        Json.Type(result).Should().Be("presence");
        result.GetProperty("forbidden").EnumerateArray().Select(u => u.GetString()).Should().Equal("ghost");
    }

    private sealed class UnknownUsersSource(params string[] unknown) : IMembershipSource
    {
        public ValueTask<IReadOnlyCollection<string>> GetGroupsAsync(string userId, CancellationToken cancellationToken = default)
            => unknown.Contains(userId) ? throw new UnknownUserException(userId) : new(new[] { "team" });

        public ValueTask<IReadOnlyCollection<string>> GetContactsAsync(string userId, CancellationToken cancellationToken = default)
            => new(Array.Empty<string>());
    }

    [Fact]
    public async Task Status_SameValueTwice_OneEventAndAlwaysAck()
    {
        await using RelayTestHost host = RelayTestHost.Create();
        host.Membership.AddContacts("alice", "bob");
        TestConnection alice = await host.ConnectAsync("alice");
        TestConnection bob = await host.ConnectAsync("bob");
        await alice.RequestAsync("""{"type":"watch","id":"w","users":["bob"]}""", "w");

        Json.Type(await bob.RequestAsync("""{"type":"status","id":"s1","value":"away"}""", "s1")).Should().Be("ack");
        Json.Type(await bob.RequestAsync("""{"type":"status","id":"s2","value":"away"}""", "s2")).Should().Be("ack");
        await bob.RequestAsync("""{"type":"status","id":"s3","value":null}""", "s3");
        await alice.SyncAsync();

        alice.Socket.OfType("presence").Where(f => Json.Id(f) is null).Select(f => Json.Str(f, "status"))
            .Should().Equal("away", null);
        (await host.Relay.GetPresenceAsync("bob")).Should().Be(new PresenceState(true, null));
    }

    [Fact]
    public async Task Watch_OnlineUserWithStatus_ResultCarriesStatus()
    {
        await using RelayTestHost host = RelayTestHost.Create();
        host.Membership.AddContacts("alice", "bob");
        TestConnection bob = await host.ConnectAsync("bob");
        await bob.RequestAsync("""{"type":"status","id":"s","value":"busy"}""", "s");
        TestConnection alice = await host.ConnectAsync("alice");

        JsonElement result = await alice.RequestAsync("""{"type":"watch","id":"w","users":["bob"]}""", "w");

        JsonElement online = result.GetProperty("online").EnumerateArray().Should().ContainSingle().Subject;
        online.GetProperty("user").GetString().Should().Be("bob");
        online.GetProperty("status").GetString().Should().Be("busy");
    }

    [Fact]
    public async Task Unwatch_WatchedUser_AckAndNoMoreEvents()
    {
        await using RelayTestHost host = RelayTestHost.Create();
        host.Membership.AddContacts("alice", "bob");
        TestConnection alice = await host.ConnectAsync("alice");
        await alice.RequestAsync("""{"type":"watch","id":"w","users":["bob"]}""", "w");

        Json.Type(await alice.RequestAsync("""{"type":"unwatch","id":"u","users":["bob"]}""", "u")).Should().Be("ack");
        TestConnection bob = await host.ConnectAsync("bob");
        await bob.DisposeAsync();
        await alice.SyncAsync();

        alice.Socket.OfType("presence").Where(f => Json.Id(f) is null).Should().BeEmpty();
    }

    [Fact]
    public async Task Watch_OverMaxWatchedUsers_BadRequestAndEarlierWatchesKept()
    {
        await using RelayTestHost host = RelayTestHost.Create(o =>
        {
            o.MaxWatchedUsers = 2;
            o.MaxWatchPerRequest = 2;
        });
        host.Membership.AddContacts("alice", "bob", "carol", "dave");
        TestConnection alice = await host.ConnectAsync("alice");

        Json.Type(await alice.RequestAsync("""{"type":"watch","id":"w1","users":["bob","carol"]}""", "w1")).Should().Be("presence");
        JsonElement error = await alice.RequestAsync("""{"type":"watch","id":"w2","users":["dave"]}""", "w2");
        Json.Type(await alice.RequestAsync("""{"type":"watch","id":"w3","users":["bob"]}""", "w3")).Should().Be("presence", "watching a user again adds nothing");

        Json.Str(error, "code").Should().Be("bad_request");
        await host.ConnectAsync("bob");
        await alice.Socket.WaitForFrameAsync(f => Json.Type(f) == "presence" && Json.Str(f, "user") == "bob", "bob's presence event");
    }

    [Fact]
    public async Task Publish_InvalidArguments_ArgumentException()
    {
        await using RelayTestHost host = RelayTestHost.Create(o => o.MaxIdLength = 8);
        IGroupRelay relay = host.Relay;

        await FluentActions.Awaiting(() => relay.PublishAsync("team", Json.Utf8("{\"a\":"), "system").AsTask()).Should().ThrowAsync<ArgumentException>();
        await FluentActions.Awaiting(() => relay.PublishAsync("team", Json.Utf8("1 2"), "system").AsTask()).Should().ThrowAsync<ArgumentException>();
        await FluentActions.Awaiting(() => relay.PublishAsync("team", ReadOnlyMemory<byte>.Empty, "system").AsTask()).Should().ThrowAsync<ArgumentException>();
        await FluentActions.Awaiting(() => relay.PublishAsync(string.Empty, Json.Utf8("1"), "system").AsTask()).Should().ThrowAsync<ArgumentException>();
        await FluentActions.Awaiting(() => relay.PublishAsync("123456789", Json.Utf8("1"), "system").AsTask()).Should().ThrowAsync<ArgumentException>();
        await FluentActions.Awaiting(() => relay.PublishAsync("team", Json.Utf8("1"), "123456789").AsTask()).Should().ThrowAsync<ArgumentException>();
        await FluentActions.Awaiting(() => relay.AddUserToGroupAsync(string.Empty, "team")).Should().ThrowAsync<ArgumentException>();
        await FluentActions.Awaiting(() => relay.RemoveUserFromGroupAsync("alice", null!)).Should().ThrowAsync<ArgumentException>();
    }

    [Fact]
    public async Task Publish_JsonElementBodyWithWhitespace_DeliveredCompact()
    {
        await using RelayTestHost host = RelayTestHost.Create();
        host.Group("team", "alice");
        TestConnection alice = await host.ConnectAsync("alice");
        using JsonDocument body = JsonDocument.Parse("{ \"text\" : \"deploy at 5\" ,\n \"n\" : [ 1, 2 ] }");

        await host.Relay.PublishAsync("team", body.RootElement, "system").AsTask().WaitAsync(TestTimeouts.Default);

        await alice.SyncAsync();
        alice.Socket.Frames.Single(f => f.Contains("\"message\"", StringComparison.Ordinal))
            .Should().EndWith("\"body\":{\"text\":\"deploy at 5\",\"n\":[1,2]}}");
    }
}
