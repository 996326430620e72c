using System;
using System.Linq;
using System.Text.Json;
using System.Threading.Tasks;
using FluentAssertions;
using GroupRelay.Core.Tests.Infrastructure;
using GroupRelay.Internal;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace GroupRelay.Core.Tests;

/// <summary>
/// The in-process stream owner with an injected clock (no sleeps): retention by count, age and bytes, the idempotency
/// window, and that a group with no online member and nothing retained holds no state.
/// </summary>
public sealed class GroupStreamTests
{
    private static RelayTestHost Host(FakeTimeProvider clock, Action<GroupRelayOptions>? configure = null)
        => RelayTestHost.Create(o => { o.RateLimitEnabled = false; configure?.Invoke(o); }, services: s => s.AddSingleton<TimeProvider>(clock));

    /// <summary>Sends a request and returns the reply to it that arrived after it was sent (ids repeat in these tests).</summary>
    private static async Task<JsonElement> ReplyAsync(TestConnection connection, string json, string id)
    {
        int before = connection.Socket.Frames.Count;
        await connection.SendAsync(json);
        await connection.Socket.WaitUntilAsync(s => s.Frames.Skip(before).Any(f => IsReply(f, id)), $"the reply to '{id}'");
        return JsonDocument.Parse(connection.Socket.Frames.Skip(before).First(f => IsReply(f, id))).RootElement.Clone();
    }

    private static bool IsReply(string frame, string id)
    {
        JsonElement parsed = JsonDocument.Parse(frame).RootElement;
        return parsed.TryGetProperty("id", out JsonElement value) && value.GetString() == id && parsed.GetProperty("type").GetString() != "message";
    }

    private static JsonElement Welcome(TestConnection connection) => connection.Socket.OfType("welcome")[0];

    private static async Task<JsonElement[]> HistoryAsync(TestConnection connection, string group, long after)
    {
        int before = connection.Socket.Frames.Count;
        await connection.SendAsync($$"""{"type":"history","id":"h","group":"{{group}}","after":{{after}}}""");
        await connection.Socket.WaitUntilAsync(s => s.Frames.Skip(before).Any(f => f.Contains("\"type\":\"history\"", StringComparison.Ordinal)), "history result");
        return connection.Socket.Frames.Skip(before).Select(f => JsonDocument.Parse(f).RootElement.Clone()).ToArray();
    }

    [Fact]
    public async Task Retention_ByAge_MessagesOlderThanHistoryMaxAgeAreNotReplayed()
    {
        var clock = new FakeTimeProvider();
        await using RelayTestHost host = Host(clock, o => o.HistoryMaxAge = TimeSpan.FromMinutes(10));
        host.Group("team", "alice");
        TestConnection alice = await host.ConnectAsync("alice");
        await ReplyAsync(alice, """{"type":"send","id":"old","group":"team","body":"old"}""", "old");
        clock.Advance(TimeSpan.FromMinutes(6));
        await ReplyAsync(alice, """{"type":"send","id":"new","group":"team","body":"new"}""", "new");
        clock.Advance(TimeSpan.FromMinutes(5));

        JsonElement[] frames = await HistoryAsync(alice, "team", 0);

        frames.Where(f => f.GetProperty("type").GetString() == "message").Select(f => f.GetProperty("body").GetString()).Should().Equal("new");
        JsonElement result = frames.Single(f => f.GetProperty("type").GetString() == "history");
        result.GetProperty("complete").GetBoolean().Should().BeFalse("seq 1 aged out");
        host.Services.GetRequiredService<RetainedMessages>().Count.Should().Be(1);
    }

    [Fact]
    public async Task Retention_ByBytes_TheOldestOfAnyGroupGoFirst()
    {
        var clock = new FakeTimeProvider();
        await using RelayTestHost host = Host(clock, o => o.HistoryMaxBytes = 2048);
        host.Group("a", "alice");
        host.Group("b", "alice");
        TestConnection alice = await host.ConnectAsync("alice");
        string body = new('x', 300);
        for (int i = 0; i < 4; i++)
        {
            await ReplyAsync(alice, $$"""{"type":"send","id":"a{{i}}","group":"a","body":"{{body}}"}""", "a" + i);
            await ReplyAsync(alice, $$"""{"type":"send","id":"b{{i}}","group":"b","body":"{{body}}"}""", "b" + i);
        }

        RetainedMessages retained = host.Services.GetRequiredService<RetainedMessages>();
        retained.Bytes.Should().BeLessThanOrEqualTo(2048);
        JsonElement[] a = await HistoryAsync(alice, "a", 0);
        JsonElement[] b = await HistoryAsync(alice, "b", 0);
        long[] aSeqs = a.Where(f => f.GetProperty("type").GetString() == "message").Select(f => f.GetProperty("seq").GetInt64()).ToArray();
        long[] bSeqs = b.Where(f => f.GetProperty("type").GetString() == "message").Select(f => f.GetProperty("seq").GetInt64()).ToArray();
        (aSeqs.Length + bSeqs.Length).Should().Be((int)retained.Count);
        aSeqs.Should().NotBeEmpty().And.EndWith(4L, "the newest stay");
        bSeqs.Should().NotBeEmpty().And.EndWith(4L);
        aSeqs.Length.Should().BeLessThan(4, "the oldest went first, across groups");
    }

    [Fact]
    public async Task Retention_Off_HistoryReplaysNothing_AndSaysSo()
    {
        var clock = new FakeTimeProvider();
        await using RelayTestHost host = Host(clock, o => o.HistoryMessagesPerGroup = 0);
        host.Group("team", "alice");
        TestConnection alice = await host.ConnectAsync("alice");
        await ReplyAsync(alice, """{"type":"send","id":"m","group":"team","body":1}""", "m");

        JsonElement[] frames = await HistoryAsync(alice, "team", 0);

        frames.Count(f => f.GetProperty("type").GetString() == "message").Should().Be(0, "nothing is replayed");
        frames.Single(f => f.GetProperty("type").GetString() == "history").GetProperty("complete").GetBoolean().Should().BeFalse();
        host.Services.GetRequiredService<RetainedMessages>().Count.Should().Be(0);
    }

    [Fact]
    public async Task IdempotencyWindow_ARepeatAfterTheWindow_IsANewMessage()
    {
        var clock = new FakeTimeProvider();
        await using RelayTestHost host = Host(clock, o => o.IdempotencyWindow = TimeSpan.FromMinutes(2));
        host.Group("team", "alice");
        TestConnection alice = await host.ConnectAsync("alice");

        JsonElement first = await ReplyAsync(alice, """{"type":"send","id":"m1","group":"team","body":1}""", "m1");
        clock.Advance(TimeSpan.FromSeconds(119));
        JsonElement within = await ReplyAsync(alice, """{"type":"send","id":"m1","group":"team","body":1}""", "m1");
        clock.Advance(TimeSpan.FromSeconds(2));
        JsonElement after = await ReplyAsync(alice, """{"type":"send","id":"m1","group":"team","body":1}""", "m1");

        within.GetProperty("duplicate").GetBoolean().Should().BeTrue();
        after.TryGetProperty("duplicate", out _).Should().BeFalse("the window has passed");
        after.GetProperty("seq").GetInt64().Should().Be(first.GetProperty("seq").GetInt64() + 1);
        host.Services.GetRequiredService<IdempotencyKeys>().UserCount.Should().Be(1);
    }

    [Fact]
    public async Task IdempotencyKeys_OverThePerUserCap_TheOldestIsForgotten()
    {
        var clock = new FakeTimeProvider();
        await using RelayTestHost host = Host(clock, o => o.MaxIdempotencyKeysPerUser = 2);
        host.Group("team", "alice");
        TestConnection alice = await host.ConnectAsync("alice");
        foreach (string id in new[] { "k1", "k2", "k3" })
        {
            await ReplyAsync(alice, $$"""{"type":"send","id":"{{id}}","group":"team","body":1}""", id);
        }

        (await ReplyAsync(alice, """{"type":"send","id":"k3","group":"team","body":1}""", "k3")).GetProperty("duplicate").GetBoolean().Should().BeTrue();
        (await ReplyAsync(alice, """{"type":"send","id":"k1","group":"team","body":1}""", "k1")).TryGetProperty("duplicate", out _).Should().BeFalse("k1 was the oldest of three with room for two");
    }

    [Fact]
    public async Task DeadGroup_NoOnlineMemberAndNothingRetained_HoldsNoState_AndComesBackWithANewEpoch()
    {
        var clock = new FakeTimeProvider();
        await using RelayTestHost host = Host(clock, o => o.HistoryMaxAge = TimeSpan.FromMinutes(1));
        host.Group("team", "alice");
        TestConnection alice = await host.ConnectAsync("alice");
        string epoch = Welcome(alice).GetProperty("positions").GetProperty("team").GetProperty("epoch").GetString()!;
        await ReplyAsync(alice, """{"type":"send","id":"m","group":"team","body":1}""", "m");
        var streams = (InProcessRelayBackplane)host.Services.GetRequiredService<GroupRelay.ScaleOut.IRelayBackplane>();
        streams.StreamCount.Should().Be(1);

        await alice.DisposeAsync();
        streams.Sweep();
        streams.StreamCount.Should().Be(1, "a retained message keeps the stream");
        clock.Advance(TimeSpan.FromMinutes(2));
        streams.Sweep();
        streams.StreamCount.Should().Be(0, "no online member and nothing retained: no state");
        host.Services.GetRequiredService<RetainedMessages>().Count.Should().Be(0);

        TestConnection again = await host.ConnectAsync("alice");
        JsonElement position = Welcome(again).GetProperty("positions").GetProperty("team");
        position.GetProperty("seq").GetInt64().Should().Be(0);
        position.GetProperty("epoch").GetString().Should().NotBe(epoch, "the numbering restarted, so the epoch changed");
    }

    [Fact]
    public async Task DeadGroup_AStreamUsedWithinTheGrace_IsKept()
    {
        var clock = new FakeTimeProvider();
        await using RelayTestHost host = Host(clock, o => o.HistoryMessagesPerGroup = 0);
        host.Group("team", "alice");
        TestConnection alice = await host.ConnectAsync("alice");
        await alice.DisposeAsync();
        var streams = (InProcessRelayBackplane)host.Services.GetRequiredService<GroupRelay.ScaleOut.IRelayBackplane>();

        clock.Advance(InProcessRelayBackplane.DropGrace - TimeSpan.FromSeconds(1));
        streams.Sweep();
        streams.StreamCount.Should().Be(1, "a connecting member may have read the position a moment ago");
        clock.Advance(TimeSpan.FromSeconds(2));
        streams.Sweep();
        streams.StreamCount.Should().Be(0);
    }
}
