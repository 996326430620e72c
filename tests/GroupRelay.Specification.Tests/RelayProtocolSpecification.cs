using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.Json;
using System.Threading.Tasks;
using FluentAssertions;
using Xunit;

namespace GroupRelay.Specification.Tests;

/// <summary>
/// The wire protocol (PROTOCOL.md) as one abstract test suite. Each transport runs it through a small derived
/// class that creates its <see cref="RelayServerHarness"/>; the tests here are the same for every transport.
/// Partial: each file covers one section of the protocol.
/// </summary>
public abstract partial class RelayProtocolSpecification : IAsyncLifetime
{
    private readonly List<RelayTestClient> _clients = new();

    protected RelayServerHarness Server { get; private set; } = null!;

    /// <summary>Creates the transport's server harness (not yet started).</summary>
    protected abstract RelayServerHarness CreateHarness();

    public Task InitializeAsync()
    {
        Server = CreateHarness();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        foreach (RelayTestClient client in _clients)
        {
            await client.DisposeAsync();
        }

        await Server.DisposeAsync();
    }

    /// <summary>Starts the server; tests that need other options pass <paramref name="configure"/>.</summary>
    protected Task StartAsync(Action<GroupRelayOptions>? configure = null) => Server.StartAsync(configure ?? (_ => { }));

    /// <summary>Connects a user and waits for its <c>welcome</c>; the client is disposed after the test.</summary>
    protected async Task<RelayTestClient> ConnectAsync(string user, bool waitForWelcome = true, bool startReading = true)
    {
        RelayTestClient client = await Server.ConnectAsync(user, waitForWelcome, startReading);
        _clients.Add(client);
        return client;
    }

    /// <summary>Sets the groups of users in the test membership source: ("team", "alice", "bob").</summary>
    protected void Group(string group, params string[] users)
    {
        foreach (string user in users)
        {
            string[] current = Server.Membership.GetGroupsAsync(user).AsTask().Result.ToArray();
            Server.Membership.SetGroups(user, current.Append(group).ToArray());
        }
    }

    protected static Dictionary<string, object?> Req(string type, params (string Key, object? Value)[] fields)
    {
        var request = new Dictionary<string, object?> { ["type"] = type };
        foreach ((string key, object? value) in fields)
        {
            request[key] = value;
        }

        return request;
    }

    protected static string Type(JsonElement frame) => frame.GetProperty("type").GetString()!;

    [Fact]
    public async Task Connect_Authenticated_WelcomeIsFirstFrameWithUserAndGroups()
    {
        Group("team", "alice");
        Group("family", "alice");
        await StartAsync();

        RelayTestClient alice = await ConnectAsync("alice");

        alice.Welcome.GetProperty("user").GetString().Should().Be("alice");
        alice.Welcome.GetProperty("connectionId").GetString().Should().NotBeNullOrEmpty();
        alice.Welcome.GetProperty("groups").EnumerateArray().Select(g => g.GetString()).Should().BeEquivalentTo("team", "family");
    }

    [Fact]
    public async Task Send_ToGroup_ReachesEveryConnectionOfEveryMemberOnce_AndAckCarriesSeq()
    {
        Group("team", "alice", "bob", "carol");
        Group("other", "dave");
        await StartAsync();
        RelayTestClient alice = await ConnectAsync("alice");
        RelayTestClient bob1 = await ConnectAsync("bob");
        RelayTestClient bob2 = await ConnectAsync("bob");
        RelayTestClient carol = await ConnectAsync("carol");
        RelayTestClient dave = await ConnectAsync("dave");

        JsonElement ack = await alice.RequestAsync(Req("send", ("group", "team"), ("body", new { text = "hi" })));

        Type(ack).Should().Be("ack");
        long seq = ack.GetProperty("seq").GetInt64();
        seq.Should().Be(1);
        foreach (RelayTestClient client in new[] { alice, bob1, bob2, carol })
        {
            JsonElement message = await client.ExpectAsync("message");
            message.GetProperty("group").GetString().Should().Be("team");
            message.GetProperty("from").GetString().Should().Be("alice");
            message.GetProperty("seq").GetInt64().Should().Be(seq);
            message.GetProperty("body").GetRawText().Should().Be("{\"text\":\"hi\"}");
            message.GetProperty("ts").GetInt64().Should().BeGreaterThan(0);
            (await client.NextWithinAsync(TimeSpan.FromMilliseconds(200), "message")).Should().BeNull("each connection gets the message exactly once");
        }

        (await dave.NextWithinAsync(TimeSpan.FromMilliseconds(300), "message")).Should().BeNull("a non-member gets nothing");
    }

    [Fact]
    public async Task Send_ToGroupNotAMemberOf_IsNotMemberError_AndNothingIsDelivered()
    {
        Group("ops", "bob");
        Group("team", "alice");
        await StartAsync();
        RelayTestClient alice = await ConnectAsync("alice");
        RelayTestClient bob = await ConnectAsync("bob");

        JsonElement reply = await alice.RequestAsync(Req("send", ("id", "m1"), ("group", "ops"), ("body", "x")));

        Type(reply).Should().Be("error");
        reply.GetProperty("code").GetString().Should().Be("not_member");
        reply.GetProperty("id").GetString().Should().Be("m1");
        (await bob.NextWithinAsync(TimeSpan.FromMilliseconds(300), "message")).Should().BeNull();
    }
}
