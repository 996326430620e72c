using System;
using System.Collections.Concurrent;
using System.IO;
using System.Threading.Tasks;
using FluentAssertions;
using Microsoft.Playwright;
using Xunit;

namespace GroupRelay.Sample.Tests;

/// <summary>
/// The console sample's chat page in a real browser (Chromium at /usr/bin/chromium, see <see cref="SampleBrowser"/>),
/// pointed at the Fleck sample's relay with <c>?relay=ws://127.0.0.1:PORT/relay&amp;token=...</c>: the page and its
/// friends API come from the console sample, the WebSockets go to Fleck, and both samples share one database.
/// </summary>
public sealed class FleckBrowserChatTests
{
    private const float Timeout = 15_000;

    [Fact]
    public async Task ConsolePage_OnTheFleckRelay_AliceAndBob_SeeEachOtherOnline_AndChatInTeam()
    {
        File.Exists(SampleBrowser.ExecutablePath).Should().BeTrue(
            $"the browser test drives Debian's Chromium at {SampleBrowser.ExecutablePath}, which is missing: run ./test.sh (it installs it with apt-get install -y chromium)");

        await using SampleServer console = await SampleServer.StartAsync();
        await using FleckSampleServer fleck = await FleckSampleServer.StartAsync(console.DatabasePath);
        using IPlaywright playwright = await Playwright.CreateAsync();
        await using IBrowser browser = await SampleBrowser.LaunchAsync(playwright);

        var pageErrors = new ConcurrentQueue<string>();
        var relayUrls = new ConcurrentQueue<string>();
        IPage alice = await OpenAsync(browser, console, fleck, "alice", pageErrors, relayUrls);
        IPage bob = await OpenAsync(browser, console, fleck, "bob", pageErrors, relayUrls);

        foreach (IPage page in new[] { alice, bob })
        {
            await Assertions.Expect(page.Locator("[data-group=team]")).ToBeVisibleAsync(new() { Timeout = Timeout });
            await page.ClickAsync("[data-group=team]");
        }

        // Presence comes from the Fleck relay; the friends list from the console sample's API, with the Fleck token.
        await Assertions.Expect(alice.Locator("[data-friend=bob][data-online=true]")).ToBeVisibleAsync(new() { Timeout = Timeout });
        await Assertions.Expect(bob.Locator("[data-friend=alice][data-online=true]")).ToBeVisibleAsync(new() { Timeout = Timeout });

        await SendAsync(alice, "Hello Bob, over Fleck");
        await Assertions.Expect(bob.Locator(".message[data-from=alice] .message-text", new() { HasText = "Hello Bob, over Fleck" }))
            .ToBeVisibleAsync(new() { Timeout = Timeout });

        await SendAsync(bob, "Hi Alice, Fleck here too");
        await Assertions.Expect(alice.Locator(".message[data-from=bob] .message-text", new() { HasText = "Hi Alice, Fleck here too" }))
            .ToBeVisibleAsync(new() { Timeout = Timeout });

        relayUrls.Should().NotBeEmpty().And.OnlyContain(url => url.StartsWith($"ws://127.0.0.1:{fleck.Port}/relay", StringComparison.Ordinal),
            "every WebSocket of the page goes to the Fleck relay, none to the console sample's");
        alice.Url.Should().NotContain("token=");
        pageErrors.Should().BeEmpty("the page must run without script errors");
        fleck.Logs.Lines.Should().NotContain(line => line.Contains(fleck.Tokens["alice"], StringComparison.Ordinal), "tokens are never logged");
    }

    private static async Task<IPage> OpenAsync(IBrowser browser, SampleServer console, FleckSampleServer fleck, string user, ConcurrentQueue<string> errors, ConcurrentQueue<string> relayUrls)
    {
        IBrowserContext context = await browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = 1280, Height = 760 } });
        IPage page = await context.NewPageAsync();
        page.SetDefaultTimeout(Timeout);
        page.PageError += (_, error) => errors.Enqueue($"{user}: {error}");
        page.WebSocket += (_, socket) => relayUrls.Enqueue(socket.Url);
        string query = $"?relay={Uri.EscapeDataString(fleck.RelayUri.ToString())}&token={Uri.EscapeDataString(fleck.Tokens[user])}";
        await page.GotoAsync(console.BaseUri + query);
        await Assertions.Expect(page.Locator("#me-name")).ToHaveTextAsync(user, new() { Timeout = Timeout });
        return page;
    }

    private static async Task SendAsync(IPage page, string text)
    {
        await Assertions.Expect(page.Locator("#send")).ToBeEnabledAsync(new() { Timeout = Timeout });
        await page.FillAsync("#input", text);
        await page.PressAsync("#input", "Enter");
    }
}
