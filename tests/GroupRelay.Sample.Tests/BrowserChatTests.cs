using System;
using System.Collections.Concurrent;
using System.IO;
using System.Linq;
using System.Text.Json;
using System.Text.RegularExpressions;
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

            // The restarted relay numbers #team anew (a new epoch): the page cannot know what it missed, and says so.
            await Assertions.Expect(alice.Locator(".notice-gap")).ToHaveTextAsync("The relay restarted its history: messages sent while you were away may be missing");
            await ShotAsync(alice, "after-restart");

            pageErrors.Should().BeEmpty("the page must run without script errors");
        }
        finally
        {
            await server.DisposeAsync();
        }
    }

    [Fact]
    public async Task ClientModule_ServedByTheRelay_SplitsFrames_MatchesReplies_WaitsForWelcome_AndReconnects()
    {
        File.Exists(Chromium).Should().BeTrue(
            $"the browser test drives Debian's Chromium at {Chromium}, which is missing: run ./test.sh (it installs it with apt-get install -y chromium)");
        await using SampleServer server = await SampleServer.StartAsync();
        using IPlaywright playwright = await Playwright.CreateAsync();
        await using IBrowser browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions { ExecutablePath = Chromium, Headless = true, Args = ChromiumArgs, Timeout = 30_000 });
        IPage page = await browser.NewPageAsync();
        page.SetDefaultTimeout(Timeout);
        await page.GotoAsync(server.BaseUri + "relay/client.js");

        // A scripted WebSocket stands in for the relay, so each protocol rule of the client is checked exactly.
        JsonElement result = await page.EvaluateAsync<JsonElement>("""
            async () => {
              const { GroupRelayClient } = await import('/relay/client.js');
              const tick = ms => new Promise(r => setTimeout(r, ms));
              class FakeSocket {
                static instances = [];
                constructor(url, protocols) { this.url = url; this.protocols = protocols; this.readyState = 0; this.sent = []; FakeSocket.instances.push(this); setTimeout(() => { this.readyState = 1; this.onopen?.({}); }, 0); }
                send(data) { this.sent.push(JSON.parse(data)); }
                close(code, reason) { this.readyState = 3; setTimeout(() => this.onclose?.({ code: code ?? 1005, reason: reason ?? '' }), 0); }
                serverSend(text) { this.onmessage?.({ data: text }); }
                serverClose(code) { this.readyState = 3; this.onclose?.({ code, reason: '' }); }
              }
              const r = {};
              const relative = new GroupRelayClient({ url: '/relay', WebSocket: FakeSocket });
              relative.start().catch(() => {});
              await tick(5);
              r.relativeUrl = FakeSocket.instances.pop().url;
              await relative.stop();
              const client = new GroupRelayClient({ url: 'ws://127.0.0.1:9/relay', accessTokenFactory: async () => 'a b+c', WebSocket: FakeSocket,
                reconnect: { initialDelayMs: 10, maxDelayMs: 40 }, heartbeatMs: 0, initialHistory: 'none' });
              const connected = client.start();
              await tick(5);
              const ws = FakeSocket.instances[0];
              r.url = ws.url; r.protocols = ws.protocols;
              const sending = client.send('team', { text: 'x' });
              r.sentBeforeWelcome = ws.sent.length;
              ws.serverSend('{"type":"welcome","connectionId":"c1","user":"alice","groups":["team"],"positions":{"team":{"epoch":"e1","seq":6}}}');
              r.welcomeUser = (await connected).user;
              r.sentAfterWelcome = ws.sent.map(f => f.type);
              const id = ws.sent[0].id;
              const seqs = [];
              client.on('message', m => seqs.push(m.seq));
              ws.serverSend(`{"type":"message","group":"team","from":"alice","seq":7,"ts":1,"body":{"text":"x"}}\n{"type":"ack","id":"${id}","seq":7}\n{"type":"joined","group":"team","user":"bob"}`);
              r.ack = await sending;
              r.seqs = seqs;
              r.lastSeq = client.positions.team.seq;
              const refused = client.send('ops', { text: 'y' });
              ws.serverSend(`{"type":"error","id":"${ws.sent[1].id}","code":"not_member","message":"not in ops"}`);
              r.errorCode = await refused.then(() => null, e => e.code);
              const states = [];
              client.on('state', s => states.push(s.state));
              const inflight = client.ping();
              ws.serverClose(1006);
              await tick(120);
              const ws2 = FakeSocket.instances[1];
              ws2.serverSend('{"type":"welcome","connectionId":"c2","user":"alice","groups":["team","ops"]}');
              const ping = ws2.sent.find(f => f.type === 'ping');
              ws2.serverSend(`{"type":"pong","id":"${ping.id}"}`);
              r.inflight = await inflight.then(() => 'answered on the next connection', e => e.code);
              r.states = [...states];
              r.groups = [...client.groups].sort();
              await client.stop();
              r.final = client.state;
              r.afterStop = await client.ping().then(() => null, e => e.code);
              return r;
            }
            """);

        result.GetProperty("relativeUrl").GetString().Should().Be($"ws://{server.BaseUri.Authority}/relay", "a path is resolved against the page");
        result.GetProperty("url").GetString().Should().Be("ws://127.0.0.1:9/relay?access_token=a+b%2Bc");
        result.GetProperty("protocols")[0].GetString().Should().Be("grouprelay.v1");
        result.GetProperty("sentBeforeWelcome").GetInt32().Should().Be(0, "nothing that depends on membership is sent before welcome");
        result.GetProperty("welcomeUser").GetString().Should().Be("alice");
        result.GetProperty("sentAfterWelcome")[0].GetString().Should().Be("send");
        result.GetProperty("ack").GetProperty("seq").GetInt32().Should().Be(7);
        result.GetProperty("seqs")[0].GetInt32().Should().Be(7);
        result.GetProperty("lastSeq").GetInt32().Should().Be(7);
        result.GetProperty("errorCode").GetString().Should().Be("not_member");
        result.GetProperty("inflight").GetString().Should().Be("answered on the next connection");
        result.GetProperty("states").EnumerateArray().Select(s => s.GetString()).Should().Equal("reconnecting", "connecting", "connected");
        result.GetProperty("groups").EnumerateArray().Select(s => s.GetString()).Should().Equal("ops", "team");
        result.GetProperty("final").GetString().Should().Be("disconnected");
        result.GetProperty("afterStop").GetString().Should().Be("stopped");
    }

    [Fact]
    public async Task Reload_ShowsTheRetainedPast_InOrderAndOnce_WithAMessageSentWhileTheTabWasReloading()
    {
        File.Exists(Chromium).Should().BeTrue(
            $"the browser test drives Debian's Chromium at {Chromium}, which is missing: run ./test.sh (it installs it with apt-get install -y chromium)");
        await using SampleServer server = await SampleServer.StartAsync();
        using IPlaywright playwright = await Playwright.CreateAsync();
        await using IBrowser browser = await SampleBrowser.LaunchAsync(playwright);
        var pageErrors = new ConcurrentQueue<string>();
        IPage alice = await OpenAsync(browser, server, "alice", pageErrors);
        IPage bob = await OpenAsync(browser, server, "bob", pageErrors);
        await alice.ClickAsync("[data-group=team]");
        await bob.ClickAsync("[data-group=team]");

        // Nothing was ever sent in #team: bob's page says it is the start (alice's shows "bob joined" instead).
        await Assertions.Expect(bob.Locator(".empty-title")).ToHaveTextAsync("This is the start of #team", new() { Timeout = Timeout });

        // Five messages, alternating; each is seen on the other page before the next one is sent.
        string[] texts = ["1 alice: morning", "2 bob: hi Alice", "3 alice: review at ten?", "4 bob: yes", "5 alice: see you"];
        for (int i = 0; i < texts.Length; i++)
        {
            (IPage from, IPage to) = i % 2 == 0 ? (alice, bob) : (bob, alice);
            await SendAsync(from, texts[i]);
            await Assertions.Expect(to.Locator(".message-text", new() { HasText = texts[i] })).ToBeVisibleAsync(new() { Timeout = Timeout });
        }

        await ShotAsync(bob, "before-reload");

        // Bob reloads. The new page's client module is held back until alice's next message is acknowledged and on
        // her screen: it is sent while bob's tab has no page and no connection at all.
        var reloading = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var sent = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await bob.RouteAsync("**/relay/client.js", async route =>
        {
            reloading.TrySetResult();
            await sent.Task.WaitAsync(TimeSpan.FromSeconds(30));
            await route.ContinueAsync();
        });
        Task reload = bob.ReloadAsync(new() { Timeout = 30_000 });
        await reloading.Task.WaitAsync(TimeSpan.FromSeconds(15));
        const string whileReloading = "6 alice: sent while bob reloads";
        await SendAsync(alice, whileReloading);
        await Assertions.Expect(alice.Locator(".message-text", new() { HasText = whileReloading })).ToBeVisibleAsync(new() { Timeout = Timeout });
        sent.SetResult();
        await reload.WaitAsync(TimeSpan.FromSeconds(30));
        await bob.UnrouteAsync("**/relay/client.js");

        // After the reload bob is back in #team and sees all six, in order, each once, and no gap.
        await Assertions.Expect(bob.Locator("#me-name")).ToHaveTextAsync("bob", new() { Timeout = Timeout });
        ILocator bobMessages = bob.Locator("#messages .message .message-text");
        await Assertions.Expect(bobMessages).ToHaveTextAsync([.. texts, whileReloading], new() { Timeout = Timeout });
        await Assertions.Expect(bob.Locator("#messages .message")).ToHaveCountAsync(6);
        (await bob.Locator("#messages .message").EvaluateAllAsync<int[]>("rows => rows.map(r => Number(r.dataset.seq))"))
            .Should().Equal(1, 2, 3, 4, 5, 6);
        await Assertions.Expect(bob.Locator(".notice-gap")).ToHaveCountAsync(0);
        await Assertions.Expect(bob.Locator(".empty-state")).ToHaveCountAsync(0);
        await ShotAsync(bob, "after-reload");

        // Live again: the next message comes once, after the replayed ones (no late duplicate arrived in between).
        await SendAsync(alice, "7 alice: welcome back");
        await Assertions.Expect(bobMessages).ToHaveTextAsync([.. texts, whileReloading, "7 alice: welcome back"], new() { Timeout = Timeout });
        await SendAsync(bob, "8 bob: thanks");
        await Assertions.Expect(alice.Locator("#messages .message .message-text")).ToHaveTextAsync([.. texts, whileReloading, "7 alice: welcome back", "8 bob: thanks"], new() { Timeout = Timeout });

        // The replayed past is not unread: #all had nothing, and nothing of #team counts after the reload.
        await Assertions.Expect(bob.Locator(".badge")).ToHaveCountAsync(0);
        await bob.ClickAsync("[data-group=all]");
        await Assertions.Expect(bob.Locator(".empty-title")).ToHaveTextAsync("This is the start of #all", new() { Timeout = Timeout });
        pageErrors.Should().BeEmpty("the page must run without script errors");
    }

    [Fact]
    public async Task MessagesNoLongerRetained_AreLoadedFromTheAppsArchive_AboveAnHonestLine()
    {
        File.Exists(Chromium).Should().BeTrue(
            $"the browser test drives Debian's Chromium at {Chromium}, which is missing: run ./test.sh (it installs it with apt-get install -y chromium)");
        await using SampleServer server = await SampleServer.StartAsync(null, "--history-messages", "3");
        using IPlaywright playwright = await Playwright.CreateAsync();
        await using IBrowser browser = await SampleBrowser.LaunchAsync(playwright);
        var pageErrors = new ConcurrentQueue<string>();
        IPage alice = await OpenAsync(browser, server, "alice", pageErrors);
        await alice.ClickAsync("[data-group=team]");
        string[] texts = ["one", "two", "three", "four", "five"];
        foreach (string text in texts)
        {
            await SendAsync(alice, text);
            await Assertions.Expect(alice.Locator(".message-text", new() { HasText = text })).ToBeVisibleAsync(new() { Timeout = Timeout });
        }

        // The relay keeps only the latest 3 of #team; the sample stored all five (its message observer), so bob sees
        // the first two from the app's archive, then a line that says where they came from, then the relay's three.
        IPage bob = await OpenAsync(browser, server, "bob", pageErrors);
        await bob.ClickAsync("[data-group=team]");
        await Assertions.Expect(bob.Locator("#messages .message .message-text")).ToHaveTextAsync(texts, new() { Timeout = Timeout });
        await Assertions.Expect(bob.Locator(".notice-archive")).ToHaveTextAsync("Messages above come from the app's archive: the relay no longer keeps them");
        await Assertions.Expect(bob.Locator("#messages > *").Nth(2)).ToHaveClassAsync(new Regex("notice-archive"));
        await Assertions.Expect(bob.Locator(".notice-gap")).ToHaveCountAsync(0);
        await Assertions.Expect(bob.Locator(".empty-state")).ToHaveCountAsync(0);
        await ShotAsync(bob, "archive");

        // The same after a reload of alice's page: her own first two are gone from the relay, not from the app.
        await alice.ReloadAsync(new() { Timeout = 30_000 });
        await Assertions.Expect(alice.Locator("#messages .message .message-text")).ToHaveTextAsync(texts, new() { Timeout = Timeout });
        await Assertions.Expect(alice.Locator(".notice-archive")).ToHaveCountAsync(1);
        pageErrors.Should().BeEmpty("the page must run without script errors");
    }

    [Fact]
    public async Task ClientModule_Resumes_InSeqOrder_Once_PagesPastTheLimit_ReportsGaps_AndResendsSends()
    {
        File.Exists(Chromium).Should().BeTrue(
            $"the browser test drives Debian's Chromium at {Chromium}, which is missing: run ./test.sh (it installs it with apt-get install -y chromium)");
        await using SampleServer server = await SampleServer.StartAsync();
        using IPlaywright playwright = await Playwright.CreateAsync();
        await using IBrowser browser = await SampleBrowser.LaunchAsync(playwright);
        IPage page = await browser.NewPageAsync();
        page.SetDefaultTimeout(Timeout);
        await page.GotoAsync(server.BaseUri + "relay/client.js");

        // A scripted relay: history replays interleaved with live frames, a page cut by limit, aged-out messages,
        // a dropped connection with a send in flight, an epoch change and a reset.
        JsonElement result = await page.EvaluateAsync<JsonElement>("""
            async () => {
              const { GroupRelayClient } = await import('/relay/client.js');
              const tick = ms => new Promise(r => setTimeout(r, ms));
              class FakeSocket {
                static instances = [];
                constructor() { this.readyState = 1; this.sent = []; FakeSocket.instances.push(this); }
                send(data) { this.sent.push(JSON.parse(data)); }
                close() { this.readyState = 3; }
                srv(...frames) { this.onmessage?.({ data: frames.map(f => JSON.stringify(f)).join('\n') }); }
                drop() { this.readyState = 3; this.onclose?.({ code: 1006, reason: '' }); }
              }
              const msg = (seq, group = 'team') => ({ type: 'message', group, from: 'a', seq, ts: 1, body: {} });
              const range = (from, to, group) => Array.from({ length: to - from + 1 }, (_, i) => msg(from + i, group));
              const log = [];
              const r = {};
              const client = new GroupRelayClient({ url: 'ws://127.0.0.1:9/relay', WebSocket: FakeSocket, reconnect: { initialDelayMs: 5, maxDelayMs: 5, jitter: 0 }, heartbeatMs: 0 });
              client.on('message', m => log.push(`${m.group}:${m.seq}`));
              client.on('unrecovered', u => log.push(`unrecovered ${u.group} ${u.from}-${u.to} ${u.reason}`));
              client.on('synced', s => log.push(`synced ${s.group} ${s.seq}`));
              client.start();
              await tick(1);
              let ws = FakeSocket.instances[0];
              const last = group => ws.sent.filter(f => f.type === 'history' && f.group === group).at(-1);
              ws.srv({ type: 'welcome', user: 'u', connectionId: 'c1', groups: ['team', 'fam', 'empty'],
                positions: { team: { epoch: 'e1', seq: 5 }, fam: { epoch: 'e1', seq: 250 }, empty: { epoch: 'e1', seq: 0 } } });
              r.firstAsks = ws.sent.map(f => `${f.group} after ${f.after} ${f.epoch}`);
              r.syncing = [...client.syncing].sort();
              log.length = 0;
              // team: 1 and 2 aged out; live 6 arrives between the replayed frames.
              ws.srv(msg(3), msg(6), msg(4), msg(5), { type: 'history', id: last('team').id, group: 'team', epoch: 'e1', seq: 6, complete: false });
              // fam: three pages of at most 100, and a live 251 held meanwhile.
              ws.srv(...range(1, 100, 'fam'), msg(251, 'fam'), { type: 'history', id: last('fam').id, group: 'fam', epoch: 'e1', seq: 251, complete: false });
              r.page2 = last('fam').after;
              ws.srv(...range(101, 200, 'fam'), { type: 'history', id: last('fam').id, group: 'fam', epoch: 'e1', seq: 251, complete: false });
              r.page3 = last('fam').after;
              ws.srv(...range(201, 250, 'fam'), { type: 'history', id: last('fam').id, group: 'fam', epoch: 'e1', seq: 251, complete: true });
              const famSeqs = log.filter(l => l.startsWith('fam:')).map(l => Number(l.slice(4)));
              r.famInOrderOnce = famSeqs.length === 251 && famSeqs.every((s, i) => s === i + 1);
              r.first = log.filter(l => !l.startsWith('fam:'));
              log.length = 0;
              ws.srv(msg(6), msg(7));                                  // a repeat of 6 is not handed over again
              const sending = client.send('team', { text: 'x' });
              const sendId = ws.sent.at(-1).id;
              r.idPrefixed = /^[0-9a-f]+-\d+$/.test(sendId);
              ws.drop();                                                // before the ack came
              await tick(30);
              ws = FakeSocket.instances[1];
              ws.srv({ type: 'welcome', user: 'u', connectionId: 'c2', groups: ['team', 'fam', 'empty'],
                positions: { team: { epoch: 'e1', seq: 9 }, fam: { epoch: 'e2', seq: 2 }, empty: { epoch: 'e1', seq: 0 } } });
              r.secondAsks = ws.sent.map(f => f.type === 'send' ? `send same id ${f.id === sendId}` : `${f.group} after ${f.after} ${f.epoch}`);
              ws.srv(msg(10), { type: 'ack', id: sendId, seq: 8, duplicate: true });
              ws.srv(msg(8), msg(9), { type: 'history', id: last('team').id, group: 'team', epoch: 'e1', seq: 9, complete: true });
              ws.srv(msg(1, 'fam'), msg(2, 'fam'), { type: 'history', id: last('fam').id, group: 'fam', epoch: 'e2', seq: 2, complete: true });
              r.ack = await sending;
              ws.srv({ type: 'reset', group: 'team', epoch: 'e3', seq: 0 }, msg(1));
              await tick(1);
              r.second = [...log];
              r.positions = client.positions;
              await client.stop();
              return r;
            }
            """);

        result.GetProperty("firstAsks").EnumerateArray().Select(e => e.GetString()).Should().Equal("team after 0 e1", "fam after 0 e1");
        result.GetProperty("syncing").EnumerateArray().Select(e => e.GetString()).Should().Equal("fam", "team");
        result.GetProperty("page2").GetInt32().Should().Be(100);
        result.GetProperty("page3").GetInt32().Should().Be(200);
        result.GetProperty("famInOrderOnce").GetBoolean().Should().BeTrue();
        result.GetProperty("first").EnumerateArray().Select(e => e.GetString()).Should().Equal(
            "unrecovered team 1-2 aged_out", "team:3", "team:4", "team:5", "team:6", "synced team 6", "synced fam 251");
        result.GetProperty("idPrefixed").GetBoolean().Should().BeTrue();
        result.GetProperty("secondAsks").EnumerateArray().Select(e => e.GetString()).Should().Equal(
            "team after 7 e1", "fam after 0 e2", "send same id true");
        result.GetProperty("ack").GetProperty("seq").GetInt32().Should().Be(8);
        result.GetProperty("ack").GetProperty("duplicate").GetBoolean().Should().BeTrue();
        result.GetProperty("second").EnumerateArray().Select(e => e.GetString()).Should().Equal(
            "team:7", "unrecovered fam 252-null epoch_changed", "synced empty 0", "team:8", "team:9", "team:10", "synced team 10", "fam:1", "fam:2", "synced fam 2", "team:1");
        result.GetProperty("positions").GetProperty("team").GetProperty("epoch").GetString().Should().Be("e3");
        result.GetProperty("positions").GetProperty("team").GetProperty("seq").GetInt32().Should().Be(1);
    }

    [Fact]
    public async Task AForgedToken_EndsInOneUnauthorized_BackToSignIn_WithoutAReconnectStorm()
    {
        File.Exists(Chromium).Should().BeTrue(
            $"the browser test drives Debian's Chromium at {Chromium}, which is missing: run ./test.sh (it installs it with apt-get install -y chromium)");
        await using SampleServer server = await SampleServer.StartAsync();
        string token = await server.LoginAsync("alice");
        string forged = token[..^8] + "AAAAAAAA";
        using IPlaywright playwright = await Playwright.CreateAsync();
        await using IBrowser browser = await SampleBrowser.LaunchAsync(playwright);
        IPage page = await browser.NewPageAsync();
        page.SetDefaultTimeout(Timeout);
        var pageErrors = new ConcurrentQueue<string>();
        page.PageError += (_, error) => pageErrors.Enqueue(error);

        // Every WebSocket the page opens, and every plain GET of the relay path (the client's identity check).
        await page.AddInitScriptAsync("""
            window.__sockets = 0;
            window.WebSocket = class extends window.WebSocket { constructor(...args) { super(...args); window.__sockets++; } };
            """);
        var relayGets = new ConcurrentQueue<string>();
        page.Request += (_, request) =>
        {
            if (request.Method == "GET" && new Uri(request.Url).AbsolutePath == "/relay")
            {
                relayGets.Enqueue(request.Url);
            }
        };

        await page.GotoAsync(server.BaseUri + "?token=" + Uri.EscapeDataString(forged));

        // The relay refuses the upgrade (401, which the browser cannot see); the client asks once with a plain GET,
        // hears 401, stops, and says so once: the page goes back to sign-in.
        await Assertions.Expect(page.Locator("#login-error")).ToHaveTextAsync("Your session has expired. Please sign in again.", new() { Timeout = Timeout });
        await Assertions.Expect(page.Locator("#login-view")).ToBeVisibleAsync();
        await page.WaitForTimeoutAsync(3000);
        (await page.EvaluateAsync<int>("() => window.__sockets")).Should().Be(1, "one attempt, no reconnect storm");
        relayGets.Should().HaveCount(1, "one identity check");
        pageErrors.Should().BeEmpty();

        // A new sign-in gives the page a good token, and it chats.
        await LoginAsync(page, "alice");
        await Assertions.Expect(page.Locator("#send")).ToBeEnabledAsync(new() { Timeout = Timeout });
        (await page.EvaluateAsync<int>("() => window.__sockets")).Should().Be(2);
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
