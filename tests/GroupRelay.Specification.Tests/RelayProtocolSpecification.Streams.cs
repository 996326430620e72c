using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.Json;
using System.Threading.Tasks;
using FluentAssertions;
using Xunit;

namespace GroupRelay.Specification.Tests;

/// <summary>
/// PROTOCOL.md sections 2 and 3: group streams (positions in <c>welcome</c> and <c>added</c>, epochs) and the
/// idempotent <c>send</c>.
/// </summary>
public abstract partial class RelayProtocolSpecification
{
    private static (string Epoch, long Seq) Position(JsonElement frame, string group)
    {
        JsonElement position = frame.GetProperty("positions").GetProperty(group);
        return (position.GetProperty("epoch").GetString()!, position.GetProperty("seq").GetInt64());
    }

    [Fact]
    public async Task Welcome_HasThePositionOfEveryGroup_TheSeqOfItsLatestMessage()
    {
        Group("team", "alice", "bob");
        Group("family", "bob");
        await StartAsync();
        RelayTestClient alice = await ConnectAsync("alice");
        (string epoch, long seq) = Position(alice.Welcome, "team");
        epoch.Should().NotBeNullOrEmpty();
        epoch.Length.Should().BeLessThanOrEqualTo(32);

        long last = 0;
        for (int i = 0; i < 3; i++)
        {
            last = (await SendToGroupAsync(alice, "team", i)).GetProperty("seq").GetInt64();
        }

        RelayTestClient bob = await ConnectAsync("bob");
        alice.Welcome.GetProperty("positions").EnumerateObject().Select(p => p.Name).Should().BeEquivalentTo(Strings(alice.Welcome.GetProperty("groups")));
        bob.Welcome.GetProperty("positions").EnumerateObject().Select(p => p.Name).Should().BeEquivalentTo("team", "family");
        Position(bob.Welcome, "team").Should().Be((epoch, last), "the position is the team stream's latest message, in the same epoch");
        last.Should().Be(seq + 3);
        Position(bob.Welcome, "family").Seq.Should().Be(0, "a group without messages is at seq 0");
    }

    [Fact]
    public async Task Added_CarriesTheGroupsPosition()
    {
        Group("g3", "alice");
        await StartAsync();
        RelayTestClient alice = await ConnectAsync("alice");
        RelayTestClient bob = await ConnectAsync("bob");
        JsonElement ack = await SendToGroupAsync(alice, "g3", "before bob");
        (string epoch, _) = Position(alice.Welcome, "g3");

        (await Server.Relay.AddUserToGroupAsync("bob", "g3").WaitAsync(Timeout)).Should().BeTrue();

        JsonElement added = await bob.ExpectAsync("added");
        added.GetProperty("epoch").GetString().Should().Be(epoch);
        added.GetProperty("seq").GetInt64().Should().Be(ack.GetProperty("seq").GetInt64());
    }

    [Fact]
    public async Task IdempotentSend_RepeatedIdOnTheSameConnection_AckIsTheFirstSeqMarkedDuplicate_AndNothingIsDeliveredAgain()
    {
        Group("team", "alice", "bob");
        await StartAsync();
        RelayTestClient alice = await ConnectAsync("alice");
        RelayTestClient bob = await ConnectAsync("bob");

        JsonElement first = await alice.RequestAsync(Req("send", ("id", "m1"), ("group", "team"), ("body", "hi")));
        JsonElement again = await alice.RequestAsync(Req("send", ("id", "m1"), ("group", "team"), ("body", "hi")));

        Type(first).Should().Be("ack");
        first.TryGetProperty("duplicate", out _).Should().BeFalse("a first send is not a duplicate");
        Type(again).Should().Be("ack");
        again.GetProperty("seq").GetInt64().Should().Be(first.GetProperty("seq").GetInt64());
        again.GetProperty("duplicate").GetBoolean().Should().BeTrue();
        (await bob.CollectAsync("message", 1)).Single().GetProperty("seq").GetInt64().Should().Be(first.GetProperty("seq").GetInt64());
        await ExpectNothingAsync(bob, "message", "the repeat is delivered to nobody");
        (await alice.CollectAsync("message", 1)).Should().ContainSingle("the sender's echo comes once too");
        await ExpectNothingAsync(alice, "message");
    }

    [Fact]
    public async Task IdempotentSend_RepeatedIdOnAnotherConnectionOfTheUser_IsADuplicate()
    {
        Group("team", "alice", "bob");
        await StartAsync();
        RelayTestClient alice1 = await ConnectAsync("alice");
        RelayTestClient alice2 = await ConnectAsync("alice");
        RelayTestClient bob = await ConnectAsync("bob");

        JsonElement first = await alice1.RequestAsync(Req("send", ("id", "reconnect-1"), ("group", "team"), ("body", 1)));
        JsonElement again = await alice2.RequestAsync(Req("send", ("id", "reconnect-1"), ("group", "team"), ("body", 1)));

        again.GetProperty("duplicate").GetBoolean().Should().BeTrue();
        again.GetProperty("seq").GetInt64().Should().Be(first.GetProperty("seq").GetInt64());
        (await bob.CollectAsync("message", 1)).Should().ContainSingle();
        await ExpectNothingAsync(bob, "message");
    }

    [Fact]
    public async Task IdempotentSend_TheSameIdFromAnotherUser_IsNotADuplicate()
    {
        Group("team", "alice", "bob");
        await StartAsync();
        RelayTestClient alice = await ConnectAsync("alice");
        RelayTestClient bob = await ConnectAsync("bob");

        JsonElement fromAlice = await alice.RequestAsync(Req("send", ("id", "m1"), ("group", "team"), ("body", "a")));
        JsonElement fromBob = await bob.RequestAsync(Req("send", ("id", "m1"), ("group", "team"), ("body", "b")));

        fromBob.TryGetProperty("duplicate", out _).Should().BeFalse("idempotency keys are per user");
        fromBob.GetProperty("seq").GetInt64().Should().BeGreaterThan(fromAlice.GetProperty("seq").GetInt64());
    }

    [Fact]
    public async Task IdempotentSend_TheSameIdForAnotherGroup_IsBadRequest_AndDeliversNothing()
    {
        Group("team", "alice", "bob");
        Group("ops", "alice", "carol");
        await StartAsync();
        RelayTestClient alice = await ConnectAsync("alice");
        RelayTestClient carol = await ConnectAsync("carol");

        Type(await alice.RequestAsync(Req("send", ("id", "m1"), ("group", "team"), ("body", 1)))).Should().Be("ack");
        JsonElement error = await alice.RequestAsync(Req("send", ("id", "m1"), ("group", "ops"), ("body", 1)));

        Type(error).Should().Be("error");
        Str(error, "code").Should().Be("bad_request");
        Str(error, "message").Should().Contain("m1").And.Contain("team");
        await ExpectNothingAsync(carol, "message");
    }

    [Fact]
    public async Task IdempotentSend_ManyRepeatsRacingOnTwoConnections_DeliverTheMessageOnce()
    {
        Group("team", "alice", "bob");
        await StartAsync();
        RelayTestClient alice1 = await ConnectAsync("alice");
        RelayTestClient alice2 = await ConnectAsync("alice");
        RelayTestClient bob = await ConnectAsync("bob");

        const int Ids = 20;
        Task Burst(RelayTestClient client) => Task.WhenAll(Enumerable.Range(0, Ids).Select(i => client.SendAsync(Req("send", ("id", "race-" + i), ("group", "team"), ("body", i)))));
        await Task.WhenAll(Burst(alice1), Burst(alice2)).WaitAsync(Timeout);

        List<JsonElement> messages = await bob.CollectAsync("message", Ids, LongTimeout);
        messages.Select(m => m.GetProperty("body").GetInt32()).Should().BeEquivalentTo(Enumerable.Range(0, Ids), "each id is delivered exactly once");
        await ExpectNothingAsync(bob, "message");
        List<JsonElement> acks = (await alice1.CollectAsync("ack", Ids, LongTimeout)).Concat(await alice2.CollectAsync("ack", Ids, LongTimeout)).ToList();
        acks.GroupBy(a => Str(a, "id")).Should().OnlyContain(g => g.Select(a => a.GetProperty("seq").GetInt64()).Distinct().Count() == 1, "both connections are told the same seq for an id");
        acks.Count(a => a.TryGetProperty("duplicate", out JsonElement d) && d.GetBoolean()).Should().Be(Ids, "one of the two sends of each id is the duplicate");
    }
}
