using System;
using System.Collections.Concurrent;
using System.IO;
using System.Linq;
using System.Text.Json;
using System.Threading.Tasks;
using FluentAssertions;
using GroupRelay.Specification.Tests;
using Microsoft.Playwright;
using Xunit;

namespace GroupRelay.Sample.Tests;

/// <summary>
/// The chat page in a real browser: Debian's Chromium at /usr/bin/chromium, driven by Playwright's .NET driver
/// (shipped inside the NuGet package). Playwright never downloads a browser here: the executable path is given.
/// Set GROUPRELAY_SAMPLE_SCREENSHOT=/some/file.png to also save screenshots of the page.
/// </summary>
public sealed class BrowserChatTests
{
    private const string Chromium = SampleBrowser.ExecutablePath;
    private const float Timeout = 15_000;

    private static readonly string[] ChromiumArgs = SampleBrowser.Args;

    private static readonly string? Screenshot = Environment.GetEnvironmentVariable("GROUPRELAY_SAMPLE_SCREENSHOT") is { Length: > 0 } path ? path : null;

    [Fact]
    public async Task TwoUsers_LogIn_SeeEachOtherOnline_ChatInTeam_AndSurviveARelayRestart()
    {
        File.Exists(Chromium).Should().BeTrue(
            $"the browser test drives Debian's Chromium at {Chromium}, which is missing: run ./test.sh (it installs it with apt-get install -y chromium)");

        string database = TempDatabase.NewPath();
        SampleServer server = await SampleServer.StartAsync(database);
        try
        {
            using IPlaywright playwright = await Playwright.CreateAsync();
            await using IBrowser browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
            {
                ExecutablePath = Chromium,
                Headless = true,
                Args = ChromiumArgs,
                Timeout = 30_000,
            });

            var pageErrors = new ConcurrentQueue<string>();
            IPage alice = await OpenAsync(browser, server, "alice", pageErrors, login: false);
            await ShotAsync(alice, "login");
            await LoginAsync(alice, "alice");
            IPage bob = await OpenAsync(browser, server, "bob", pageErrors);

            foreach (IPage page in new[] { alice, bob })
            {
                await Assertions.Expect(page.Locator("[data-group=team]")).ToBeVisibleAsync(new() { Timeout = Timeout });
                await page.ClickAsync("[data-group=team]");
            }

            await Assertions.Expect(alice.Locator("[data-friend=bob][data-online=true]")).ToBeVisibleAsync(new() { Timeout = Timeout });
            await Assertions.Expect(bob.Locator("[data-friend=alice][data-online=true]")).ToBeVisibleAsync(new() { Timeout = Timeout });

            await SendAsync(alice, "Hello Bob, this is Alice");
            ILocator fromAlice = bob.Locator(".message[data-from=alice] .message-text", new() { HasText = "Hello Bob, this is Alice" });
            await Assertions.Expect(fromAlice).ToBeVisibleAsync(new() { Timeout = Timeout });
            await Assertions.Expect(bob.Locator(".message[data-from=alice] .message-sender").Last).ToHaveTextAsync("alice");

            await SendAsync(bob, "Hi Alice! Bob here.");
            ILocator fromBob = alice.Locator(".message[data-from=bob] .message-text", new() { HasText = "Hi Alice! Bob here." });
            await Assertions.Expect(fromBob).ToBeVisibleAsync(new() { Timeout = Timeout });
            await Assertions.Expect(alice.Locator(".message[data-from=bob] .message-sender").Last).ToHaveTextAsync("bob");

            // A status change reaches the friend's panel; a message in another group shows as unread.
            await bob.SelectOptionAsync("#status-select", "away");
            await Assertions.Expect(alice.Locator("[data-friend=bob][data-status=away]")).ToBeVisibleAsync(new() { Timeout = Timeout });
            await bob.ClickAsync("[data-group=all]");
            await SendAsync(bob, "Lunch at noon, anyone?");
            await Assertions.Expect(alice.Locator("[data-group=all] .badge")).ToHaveTextAsync("1", new() { Timeout = Timeout });

            if (Screenshot is not null)
            {
                // Carol comes online from a plain WebSocket client: alice sees the joined notice and the green dot.
                string carolToken = await server.LoginAsync("carol");
                await using RelayTestClient carol = await RelayTestClient.ConnectAsync(new Uri(server.RelayUri + "?access_token=" + Uri.EscapeDataString(carolToken)), "carol");
                await carol.SendTextAsync("""{"type":"send","group":"team","body":{"text":"Morning both. The release notes are in the shared folder."}}""");
                await Assertions.Expect(alice.Locator("[data-friend=carol][data-online=true]")).ToBeVisibleAsync(new() { Timeout = Timeout });
                await SendAsync(alice, "Thanks Carol, I will read them before the review.");
                await Assertions.Expect(alice.Locator(".message-text", new() { HasText = "before the review" })).ToBeVisibleAsync(new() { Timeout = Timeout });
                await ShotAsync(alice, null);
                await ShotAsync(bob, "bob");
                IPage phone = await OpenAsync(browser, server, "dave", pageErrors, width: 390, height: 780);
                await Assertions.Expect(phone.Locator("[data-group=all]")).ToBeAttachedAsync(new() { Timeout = Timeout });
                await ShotAsync(phone, "phone");
            }

            // ?relay=...&token=... skips the login (for pointing the page at another relay); the token leaves the address bar.
            string erinToken = await server.LoginAsync("erin");
            IPage erin = await OpenAsync(browser, server, "erin", pageErrors, login: false,
                path: $"?relay={Uri.EscapeDataString(server.RelayUri.ToString())}&token={Uri.EscapeDataString(erinToken)}");
            await Assertions.Expect(erin.Locator("#me-name")).ToHaveTextAsync("erin", new() { Timeout = Timeout });
            await Assertions.Expect(erin.Locator("[data-friend=dave]")).ToBeVisibleAsync(new() { Timeout = Timeout });
            erin.Url.Should().NotContain("token=").And.Contain("relay=");

            if (Screenshot is not null)
            {
                await alice.EmulateMediaAsync(new PageEmulateMediaOptions { ColorScheme = ColorScheme.Dark });
                await ShotAsync(alice, "dark");
                await alice.EmulateMediaAsync(new PageEmulateMediaOptions { ColorScheme = ColorScheme.Light });
            }

            // The relay goes away: the page says so and keeps trying.
            await server.StopAsync();
            await Assertions.Expect(alice.Locator("#banner")).ToBeVisibleAsync(new() { Timeout = Timeout });
            await Assertions.Expect(alice.Locator("#banner-text")).ToContainTextAsync("Reconnecting", new() { Timeout = Timeout });
            await Assertions.Expect(alice.Locator("#send")).ToBeDisabledAsync();
            await ShotAsync(alice, "reconnecting");

            // It comes back on the same address and database: the page reconnects with the same token.
            int port = server.BaseUri.Port;
            await server.DisposeAsync();
            server = await SampleServer.StartAsync(database, "--urls", $"http://127.0.0.1:{port}");
            foreach (IPage page in new[] { alice, bob })
            {
                await Assertions.Expect(page.Locator("#send")).ToBeEnabledAsync(new() { Timeout = 30_000 });
            }

            await bob.ClickAsync("[data-group=team]");
            await SendAsync(bob, "Back after the restart");
            await Assertions.Expect(alice.Locator(".message[data-from=bob] .message-text", new() { HasText = "Back after the restart" })).ToBeVisibleAsync(new() { Timeout = Timeout });

            pageErrors.Should().BeEmpty("the page must run without script errors");
        }
        finally
        {
            await server.DisposeAsync();
        }
    }

    [Fact]
    public async Task ClientModule_SplitsFrames_MatchesReplies_WaitsForWelcome_AndReconnects()
    {
        File.Exists(Chromium).Should().BeTrue(
            $"the browser test drives Debian's Chromium at {Chromium}, which is missing: run ./test.sh (it installs it with apt-get install -y chromium)");
        await using SampleServer server = await SampleServer.StartAsync();
        using IPlaywright playwright = await Playwright.CreateAsync();
        await using IBrowser browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions { ExecutablePath = Chromium, Headless = true, Args = ChromiumArgs, Timeout = 30_000 });
        IPage page = await browser.NewPageAsync();
        page.SetDefaultTimeout(Timeout);
        await page.GotoAsync(server.BaseUri + "grouprelay-client.js");

        // A scripted WebSocket stands in for the relay, so each protocol rule of the client is checked exactly.
        JsonElement result = await page.EvaluateAsync<JsonElement>("""
            async () => {
              const { GroupRelayClient } = await import('/grouprelay-client.js');
              const tick = ms => new Promise(r => setTimeout(r, ms));
              class FakeSocket {
                static instances = [];
                constructor(url, protocols) { this.url = url; this.protocols = protocols; this.readyState = 0; this.sent = []; FakeSocket.instances.push(this); setTimeout(() => { this.readyState = 1; }, 0); }
                send(data) { this.sent.push(JSON.parse(data)); }
                close(code, reason) { this.readyState = 3; setTimeout(() => this.onclose?.({ code: code ?? 1005, reason: reason ?? '' }), 0); }
                serverSend(text) { this.onmessage?.({ data: text }); }
                serverClose(code) { this.readyState = 3; this.onclose?.({ code, reason: '' }); }
              }
              const r = {};
              const client = new GroupRelayClient({ url: 'ws://127.0.0.1:9/relay', token: () => 'a b+c', WebSocket: FakeSocket, reconnect: { initialDelayMs: 10, maxDelayMs: 40 }, heartbeatMs: 0 });
              const connected = client.connect();
              await tick(5);
              const ws = FakeSocket.instances[0];
              r.url = ws.url; r.protocols = ws.protocols;
              const sending = client.send('team', { text: 'x' });
              r.sentBeforeWelcome = ws.sent.length;
              ws.serverSend('{"type":"welcome","connectionId":"c1","user":"alice","groups":["team"]}');
              r.welcomeUser = (await connected).user;
              r.sentAfterWelcome = ws.sent.map(f => f.type);
              const id = ws.sent[0].id;
              const seqs = [];
              client.on('message', m => seqs.push(m.seq));
              ws.serverSend(`{"type":"message","group":"team","from":"alice","seq":7,"ts":1,"body":{"text":"x"}}\n{"type":"ack","id":"${id}","seq":7}\n{"type":"joined","group":"team","user":"bob"}`);
              r.ack = await sending;
              r.seqs = seqs;
              r.lastSeq = client.lastSeq.get('team');
              const refused = client.send('ops', { text: 'y' });
              ws.serverSend(`{"type":"error","id":"${ws.sent[1].id}","code":"not_member","message":"not in ops"}`);
              r.errorCode = await refused.then(() => null, e => e.code);
              const states = [];
              client.on('state', s => states.push(s.state));
              const inflight = client.ping();
              ws.serverClose(1006);
              r.inflight = await inflight.then(() => null, e => e.code);
              await tick(120);
              const ws2 = FakeSocket.instances[1];
              ws2.serverSend('{"type":"welcome","connectionId":"c2","user":"alice","groups":["team","ops"]}');
              r.states = [...states];
              r.groups = [...client.groups].sort();
              client.close();
              r.final = client.state;
              r.afterClose = await client.ping().then(() => null, e => e.code);
              return r;
            }
            """);

        result.GetProperty("url").GetString().Should().Be("ws://127.0.0.1:9/relay?access_token=a+b%2Bc");
        result.GetProperty("protocols")[0].GetString().Should().Be("grouprelay.v1");
        result.GetProperty("sentBeforeWelcome").GetInt32().Should().Be(0, "nothing that depends on membership is sent before welcome");
        result.GetProperty("welcomeUser").GetString().Should().Be("alice");
        result.GetProperty("sentAfterWelcome")[0].GetString().Should().Be("send");
        result.GetProperty("ack").GetProperty("seq").GetInt32().Should().Be(7);
        result.GetProperty("seqs")[0].GetInt32().Should().Be(7);
        result.GetProperty("lastSeq").GetInt32().Should().Be(7);
        result.GetProperty("errorCode").GetString().Should().Be("not_member");
        result.GetProperty("inflight").GetString().Should().Be("disconnected");
        result.GetProperty("states").EnumerateArray().Select(s => s.GetString()).Should().Equal("reconnecting", "connecting", "open");
        result.GetProperty("groups").EnumerateArray().Select(s => s.GetString()).Should().Equal("ops", "team");
        result.GetProperty("final").GetString().Should().Be("closed");
        result.GetProperty("afterClose").GetString().Should().Be("closed");
    }

    private static async Task<IPage> OpenAsync(IBrowser browser, SampleServer server, string user, ConcurrentQueue<string> errors, bool login = true, int width = 1280, int height = 760, string path = "")
    {
        IBrowserContext context = await browser.NewContextAsync(new BrowserNewContextOptions
        {
            ViewportSize = new ViewportSize { Width = width, Height = height },
        });
        IPage page = await context.NewPageAsync();
        page.SetDefaultTimeout(Timeout);
        page.PageError += (_, error) => errors.Enqueue($"{user}: {error}");
        await page.GotoAsync(server.BaseUri + path);
        if (login)
        {
            await LoginAsync(page, user);
        }

        return page;
    }

    private static async Task LoginAsync(IPage page, string user)
    {
        await page.ClickAsync($"[data-user={user}]");
        await Assertions.Expect(page.Locator("#me-name")).ToHaveTextAsync(user, new() { Timeout = Timeout });
    }

    private static async Task SendAsync(IPage page, string text)
    {
        await Assertions.Expect(page.Locator("#send")).ToBeEnabledAsync(new() { Timeout = Timeout });
        await page.FillAsync("#input", text);
        await page.PressAsync("#input", "Enter");
    }

    private static async Task ShotAsync(IPage page, string? suffix)
    {
        if (Screenshot is not null)
        {
            string path = suffix is null ? Screenshot : Path.ChangeExtension(Screenshot, null) + "-" + suffix + ".png";
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = path });
        }
    }
}
