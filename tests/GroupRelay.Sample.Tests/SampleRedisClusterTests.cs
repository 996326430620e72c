using System;
using System.IO;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Threading.Tasks;
using FluentAssertions;
using GroupRelay.Redis.Tests;
using GroupRelay.Specification.Tests;
using Microsoft.Playwright;
using Xunit;

namespace GroupRelay.Sample.Tests;

/// <summary>Two sample hosts started with the same --db and --redis form one cluster, as the README shows.</summary>
public sealed class SampleRedisClusterTests
{
    [Fact]
    public async Task TwoSampleHosts_SharingDatabaseAndRedis_LetAliceOnOneChatWithBobOnTheOther()
    {
        await using RedisServer redis = await RedisServer.StartAsync();
        string database = TempDatabase.NewPath();
        await using SampleServer node1 = await SampleServer.StartAsync(database, "--redis", redis.Endpoint);
        await using SampleServer node2 = await SampleServer.StartAsync(database, "--redis", redis.Endpoint);

        // A token issued by either node is accepted by both: alice logs in on node 2 and connects to node 1.
        string aliceToken = await node2.LoginAsync("alice");
        string bobToken = await node1.LoginAsync("bob");
        await using RelayTestClient alice = await RelayTestClient.ConnectAsync(new Uri(node1.RelayUri + "?access_token=" + Uri.EscapeDataString(aliceToken)), "alice");
        await using RelayTestClient bob = await RelayTestClient.ConnectAsync(new Uri(node2.RelayUri + "?access_token=" + Uri.EscapeDataString(bobToken)), "bob");

        JsonElement watch = await alice.RequestAsync(new() { ["type"] = "watch", ["users"] = new[] { "bob" } });
        watch.GetProperty("online")[0].GetProperty("user").GetString().Should().Be("bob", "presence is shared across the nodes");

        JsonElement ack = await alice.RequestAsync(new() { ["type"] = "send", ["group"] = "team", ["body"] = new { text = "hello from node 1" } });
        ack.GetProperty("type").GetString().Should().Be("ack");
        JsonElement atBob = await bob.ExpectAsync("message", m => m.GetProperty("from").GetString() == "alice");
        atBob.GetProperty("body").GetProperty("text").GetString().Should().Be("hello from node 1");
        atBob.GetProperty("seq").GetInt64().Should().Be(ack.GetProperty("seq").GetInt64());

        await bob.RequestAsync(new() { ["type"] = "send", ["group"] = "team", ["body"] = new { text = "hi from node 2" } });
        JsonElement atAlice = await alice.ExpectAsync("message", m => m.GetProperty("from").GetString() == "bob");
        atAlice.GetProperty("body").GetProperty("text").GetString().Should().Be("hi from node 2");
    }

    [Fact]
    public async Task RedisLosesTheStreams_ThePageShowsTheReset_ThenTheNewMessages_WithNoGapLine()
    {
        File.Exists(SampleBrowser.ExecutablePath).Should().BeTrue(
            $"the browser test drives Debian's Chromium at {SampleBrowser.ExecutablePath}, which is missing: run ./test.sh (it installs it with apt-get install -y chromium)");
        await using RedisServer redis = await RedisServer.StartAsync();
        await using SampleServer server = await SampleServer.StartAsync(null, "--redis", redis.Endpoint);
        using IPlaywright playwright = await Playwright.CreateAsync();
        await using IBrowser browser = await SampleBrowser.LaunchAsync(playwright);
        IPage alice = await browser.NewPageAsync();
        alice.SetDefaultTimeout(15_000);
        await alice.GotoAsync(server.BaseUri.ToString());
        await alice.ClickAsync("[data-user=alice]");
        await alice.ClickAsync("[data-group=team]");
        await SendAsync(alice, "before the flush");
        await Assertions.Expect(alice.Locator(".message-text", new() { HasText = "before the flush" })).ToBeVisibleAsync();

        (await FlushAllAsync(redis.Port)).Should().Be("+OK");
        await SendAsync(alice, "after the flush");

        // The relay numbers #team afresh (a new epoch) and tells the open connection with a reset, before the message.
        await Assertions.Expect(alice.Locator("#messages .message .message-text")).ToHaveTextAsync(["before the flush", "after the flush"]);
        await Assertions.Expect(alice.Locator(".notice-reset .notice-text")).ToHaveTextAsync("The relay started this group's history afresh");
        (await alice.Locator("#messages > .notice-reset + .message").CountAsync()).Should().Be(1, "the reset line stands right before the new message");
        (await alice.Locator("#messages .message").Last.GetAttributeAsync("data-seq")).Should().Be("1");
        await Assertions.Expect(alice.Locator(".notice-gap")).ToHaveCountAsync(0);
    }

    private static async Task SendAsync(IPage page, string text)
    {
        await Assertions.Expect(page.Locator("#send")).ToBeEnabledAsync();
        await page.FillAsync("#input", text);
        await page.PressAsync("#input", "Enter");
    }

    private static async Task<string> FlushAllAsync(int port)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port);
        NetworkStream stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes("FLUSHALL\r\n"));
        byte[] buffer = new byte[64];
        int read = await stream.ReadAsync(buffer);
        return Encoding.ASCII.GetString(buffer, 0, read).TrimEnd();
    }
}
