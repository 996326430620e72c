using System.Threading.Tasks;
using Microsoft.Playwright;

namespace GroupRelay.Sample.Tests;

/// <summary>
/// How the browser tests start Chromium: Debian's at /usr/bin/chromium, headless, driven by Playwright's .NET driver
/// (shipped inside the NuGet package). Playwright never downloads a browser here: the executable path is given.
/// Shared with GroupRelay.Sample.Fleck.Tests.
/// </summary>
public static class SampleBrowser
{
    public const string ExecutablePath = "/usr/bin/chromium";

    public static readonly string[] Args =
    [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run",
    ];

    public static Task<IBrowser> LaunchAsync(IPlaywright playwright) => playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
    {
        ExecutablePath = ExecutablePath,
        Headless = true,
        Args = Args,
        Timeout = 30_000,
    });
}
