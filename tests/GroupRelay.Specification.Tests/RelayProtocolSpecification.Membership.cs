using System.Collections.Generic;
using System.Linq;
using System.Text.Json;
using System.Threading.Tasks;
using FluentAssertions;
using Xunit;

namespace GroupRelay.Specification.Tests;

/// <summary>PROTOCOL.md section 3, membership changes at run time through the server API (<see cref="IGroupRelay"/>).</summary>
public abstract partial class RelayProtocolSpecification
{
    [Fact]
    public async Task AddUserToGroup_EveryConnectionOfTheUserGetsAdded_MembersGetJoined_AndRoutingFollowsAtOnce()
    {
        Group("g3", "alice");
        await StartAsync();
        RelayTestClient alice = await ConnectAsync("alice");
        RelayTestClient bob1 = await ConnectAsync("bob");
        RelayTestClient bob2 = await ConnectAsync("bob");

        (await Server.Relay.AddUserToGroupAsync("bob", "g3").WaitAsync(Timeout)).Should().BeTrue();
        JsonElement ack = await SendToGroupAsync(alice, "g3", "welcome aboard");

        foreach (RelayTestClient bob in new[] { bob1, bob2 })
        {
            JsonElement added = await bob.ReceiveAsync();
            Type(added).Should().Be("added");
            added.GetProperty("group").GetString().Should().Be("g3");
            JsonElement message = await bob.ReceiveAsync();
            Type(message).Should().Be("message", "the next frame after 'added' is the first message routed after the change");
            message.GetProperty("seq").GetInt64().Should().Be(ack.GetProperty("seq").GetInt64());
        }

        JsonElement joined = await alice.ExpectAsync("joined");
        joined.GetProperty("group").GetString().Should().Be("g3");
        joined.GetProperty("user").GetString().Should().Be("bob");
        Strings((await bob1.RequestAsync(Req("members", ("group", "g3")))).GetProperty("online")).Should().BeEquivalentTo("alice", "bob");
        Type(await SendToGroupAsync(bob1, "g3", "thanks")).Should().Be("ack");
    }

    [Fact]
    public async Task RemoveUserFromGroup_EveryConnectionGetsRemoved_MembersGetLeft_AndNothingMoreArrivesFromThatGroup()
    {
        Group("g3", "alice", "bob");
        Group("keep", "alice", "bob");
        await StartAsync();
        RelayTestClient alice = await ConnectAsync("alice");
        RelayTestClient bob1 = await ConnectAsync("bob");
        RelayTestClient bob2 = await ConnectAsync("bob");
        await alice.CollectAsync("joined", 2);

        (await Server.Relay.RemoveUserFromGroupAsync("bob", "g3").WaitAsync(Timeout)).Should().BeTrue();

        foreach (RelayTestClient bob in new[] { bob1, bob2 })
        {
            JsonElement removed = await bob.ReceiveAsync();
            Type(removed).Should().Be("removed");
            removed.GetProperty("group").GetString().Should().Be("g3");
        }

        JsonElement left = await alice.ExpectAsync("left");
        left.GetProperty("group").GetString().Should().Be("g3");
        left.GetProperty("user").GetString().Should().Be("bob");

        Type(await SendToGroupAsync(alice, "g3", "bob cannot read this")).Should().Be("ack");
        await Server.Relay.PublishAsync("g3", JsonSerializer.SerializeToElement("nor this"), "system").AsTask().WaitAsync(Timeout);
        JsonElement reply = await bob1.RequestAsync(Req("send", ("id", "late"), ("group", "g3"), ("body", "let me in")));
        Type(reply).Should().Be("error");
        reply.GetProperty("code").GetString().Should().Be("not_member");
        reply.GetProperty("id").GetString().Should().Be("late");
        (await bob1.RequestAsync(Req("members", ("group", "g3")))).GetProperty("code").GetString().Should().Be("not_member");
        foreach (RelayTestClient bob in new[] { bob1, bob2 })
        {
            List<JsonElement> frames = await SettleAsync(bob);
            frames.Where(f => Str(f, "group") == "g3").Select(f => f.GetRawText()).Should().BeEmpty("a removed user gets nothing more from the group");
        }

        Type(await SendToGroupAsync(alice, "keep", "other groups still work")).Should().Be("ack");
        (await bob2.ExpectAsync("message")).GetProperty("group").GetString().Should().Be("keep");
    }
}
