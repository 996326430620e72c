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

/// <summary>PROTOCOL.md section 3, <c>history</c>, and section 6 (what a reconnecting client does with it).</summary>
public abstract partial class RelayProtocolSpecification
{
    private async Task<(List<JsonElement> Replayed, JsonElement Result)> HistoryAsync(RelayTestClient client, string group, long after, string? epoch = null, int? limit = null)
    {
        var request = Req("history", ("id", "h-" + Guid.NewGuid().ToString("N")[..6]), ("group", group), ("after", after));
        if (epoch is not null)
        {
            request["epoch"] = epoch;
        }

        if (limit is int l)
        {
            request["limit"] = l;
        }

        string id = (string)request["id"]!;
        await client.SendAsync(request);
        var replayed = new List<JsonElement>();
        while (true)
        {
            JsonElement frame = await client.ReceiveAsync(Timeout);
            if (Type(frame) == "history" && Str(frame, "id") == id)
            {
                return (replayed, frame);
            }

            if (Type(frame) == "error" && Str(frame, "id") == id)
            {
                return (replayed, frame);
            }

            if (Type(frame) == "message" && Str(frame, "group") == group)
            {
                replayed.Add(frame);
            }
        }
    }

    [SkippableFact]
    public async Task History_AfterAReload_ReplaysWhatWasMissed_ByteForByte_InSeqOrder_AndIsComplete()
    {
        Skip.IfNot(RetainsHistory, "this backplane does not retain group streams yet");
        Group("team", "alice", "bob");
        await StartAsync();
        RelayTestClient alice = await ConnectAsync("alice");
        RelayTestClient bob = await ConnectAsync("bob");
        await SendToGroupAsync(alice, "team", "seen by bob");
        JsonElement seen = await bob.ExpectAsync("message");
        await alice.ExpectAsync("message"); // alice's own echo
        (string epoch, _) = Position(bob.Welcome, "team");
        await bob.DisposeAsync();

        var missedLive = new List<string>();
        for (int i = 0; i < 5; i++)
        {
            await SendToGroupAsync(alice, "team", new { n = i, text = "while bob reloads" });
            missedLive.Add((await alice.ExpectAsync("message")).GetRawText());
        }

        RelayTestClient bob2 = await ConnectAsync("bob");
        long after = seen.GetProperty("seq").GetInt64();
        Position(bob2.Welcome, "team").Should().Be((epoch, after + 5));
        (List<JsonElement> replayed, JsonElement result) = await HistoryAsync(bob2, "team", after, epoch);

        replayed.Select(m => m.GetRawText()).Should().Equal(missedLive, "history replays the frames exactly as they were delivered");
        Type(result).Should().Be("history");
        Str(result, "group").Should().Be("team");
        Str(result, "epoch").Should().Be(epoch);
        result.GetProperty("seq").GetInt64().Should().Be(after + 5);
        result.GetProperty("complete").GetBoolean().Should().BeTrue();
    }

    [SkippableFact]
    public async Task History_Limit_CutsThePage_CompleteIsFalseUntilTheLastPage()
    {
        Skip.IfNot(RetainsHistory, "this backplane does not retain group streams yet");
        Group("team", "alice");
        await StartAsync();
        RelayTestClient alice = await ConnectAsync("alice");
        for (int i = 0; i < 7; i++)
        {
            await SendToGroupAsync(alice, "team", i);
        }

        var seqs = new List<long>();
        long after = 0;
        bool complete = false;
        int pages = 0;
        while (!complete && pages++ < 10)
        {
            (List<JsonElement> replayed, JsonElement result) = await HistoryAsync(alice, "team", after, limit: 3);
            replayed.Count.Should().BeLessThanOrEqualTo(3);
            seqs.AddRange(replayed.Select(m => m.GetProperty("seq").GetInt64()));
            complete = result.GetProperty("complete").GetBoolean();
            after = seqs.Count > 0 ? seqs[^1] : after;
        }

        pages.Should().Be(3, "7 messages in pages of 3");
        seqs.Should().Equal(Enumerable.Range(1, 7).Select(i => (long)i));
    }

    [SkippableFact]
    public async Task History_OlderThanRetention_ReplaysWhatIsLeft_AndIsNotComplete()
    {
        Skip.IfNot(RetainsHistory, "this backplane does not retain group streams yet");
        Group("team", "alice");
        await StartAsync(o => o.HistoryMessagesPerGroup = 3);
        RelayTestClient alice = await ConnectAsync("alice");
        for (int i = 0; i < 5; i++)
        {
            await SendToGroupAsync(alice, "team", i);
        }

        (List<JsonElement> replayed, JsonElement result) = await HistoryAsync(alice, "team", 0);

        replayed.Select(m => m.GetProperty("seq").GetInt64()).Should().Equal(3L, 4L, 5L);
        result.GetProperty("complete").GetBoolean().Should().BeFalse("seq 1 and 2 are no longer retained");
        result.GetProperty("seq").GetInt64().Should().Be(5);
    }

    [Fact]
    public async Task History_AnotherEpoch_ReplaysNothing_AndIsNotComplete()
    {
        Group("team", "alice");
        await StartAsync();
        RelayTestClient alice = await ConnectAsync("alice");
        await SendToGroupAsync(alice, "team", "one");
        (string epoch, _) = Position(alice.Welcome, "team");

        (List<JsonElement> replayed, JsonElement result) = await HistoryAsync(alice, "team", 0, epoch: "not-" + epoch);

        replayed.Should().BeEmpty();
        Type(result).Should().Be("history");
        Str(result, "epoch").Should().Be(epoch, "the result names the current epoch");
        result.GetProperty("complete").GetBoolean().Should().BeFalse("the client must reload that group's past from the host");
    }

    [Fact]
    public async Task History_NothingMissed_IsComplete_WithNothingReplayed()
    {
        Group("team", "alice");
        await StartAsync();
        RelayTestClient alice = await ConnectAsync("alice");
        long seq = (await SendToGroupAsync(alice, "team", "one")).GetProperty("seq").GetInt64();
        await alice.ExpectAsync("message");

        (List<JsonElement> replayed, JsonElement result) = await HistoryAsync(alice, "team", seq);

        replayed.Should().BeEmpty();
        result.GetProperty("complete").GetBoolean().Should().BeTrue();
        result.GetProperty("seq").GetInt64().Should().Be(seq);
    }

    [Fact]
    public async Task History_OfAGroupTheUserIsNotIn_IsNotMember()
    {
        Group("team", "alice");
        Group("ops", "carol");
        await StartAsync();
        RelayTestClient alice = await ConnectAsync("alice");

        (_, JsonElement result) = await HistoryAsync(alice, "ops", 0);

        Type(result).Should().Be("error");
        Str(result, "code").Should().Be("not_member");
    }

    [Fact]
    public async Task History_BadFields_AreBadRequest()
    {
        Group("team", "alice");
        await StartAsync();
        RelayTestClient alice = await ConnectAsync("alice");

        foreach (string frame in new[]
        {
            """{"type":"history","id":"h1","group":"team"}""",
            """{"type":"history","id":"h2","group":"team","after":-1}""",
            """{"type":"history","id":"h3","group":"team","after":0,"limit":0}""",
            """{"type":"history","id":"h4","group":"team","after":0,"limit":1001}""",
            """{"type":"history","id":"h5","group":"team","after":0,"epoch":7}""",
        })
        {
            await alice.SendTextAsync(frame);
            JsonElement error = await alice.ExpectAsync("error");
            Str(error, "code").Should().Be("bad_request", frame);
        }
    }
}
