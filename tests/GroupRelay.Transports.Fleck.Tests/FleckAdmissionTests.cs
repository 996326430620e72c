using System;
using System.Threading.Tasks;
using FluentAssertions;
using GroupRelay.Specification.Tests;
using Xunit;

namespace GroupRelay.Transports.Fleck.Tests;

/// <summary>
/// On Fleck, which accepts before it can refuse: a foreign origin is closed with 4003 and a full connection limit with
/// 1013, right after open and before any frame (issue 14 §2 and §3).
/// </summary>
public sealed class FleckAdmissionTests
{
    private static readonly TimeSpan Timeout = RelayTestClient.DefaultTimeout;

    [Fact]
    public async Task Origin_ByDefault_NoOriginAndTheRelaysOwnHostAreAllowed_AnotherSiteIsClosedWith4003()
    {
        await using var server = new FleckRelayHarness();
        server.Membership.SetGroups("alice", "team");
        await server.StartAsync(_ => { }).WaitAsync(Timeout);

        await using RelayTestClient plain = await server.ConnectAsync("alice");
        await using RelayTestClient samehost = await server.ConnectAsync("alice", configure: o => o.SetRequestHeader("Origin", "http://127.0.0.1:8180"));
        await using RelayTestClient foreign = await server.ConnectAsync("alice", waitForWelcome: false, configure: o => o.SetRequestHeader("Origin", "https://evil.example"));

        plain.Welcome.GetProperty("type").GetString().Should().Be("welcome");
        samehost.Welcome.GetProperty("type").GetString().Should().Be("welcome", "a page served next to the relay, on another port");
        (await foreign.WaitForCloseAsync()).Should().Be(RelayCloseCodes.Unauthorized);
    }

    [Fact]
    public async Task Origin_WithAnAllowList_OnlyThoseOrigins()
    {
        await using var server = new FleckRelayHarness { ConfigureTransport = o => o.AllowedOrigins.Add("https://chat.example.com") };
        server.Membership.SetGroups("alice", "team");
        await server.StartAsync(_ => { }).WaitAsync(Timeout);

        await using RelayTestClient listed = await server.ConnectAsync("alice", configure: o => o.SetRequestHeader("Origin", "https://chat.example.com/"));
        await using RelayTestClient local = await server.ConnectAsync("alice", waitForWelcome: false, configure: o => o.SetRequestHeader("Origin", "http://127.0.0.1:8180"));

        listed.Welcome.GetProperty("type").GetString().Should().Be("welcome");
        (await local.WaitForCloseAsync()).Should().Be(RelayCloseCodes.Unauthorized, "a list replaces the default");
    }

    [Fact]
    public async Task ConnectionsPerUser_OverTheLimit_IsClosedWith1013RightAfterOpen()
    {
        await using var server = new FleckRelayHarness();
        server.Membership.SetGroups("alice", "team");
        await server.StartAsync(o => o.MaxConnectionsPerUser = 1).WaitAsync(Timeout);

        await using RelayTestClient first = await server.ConnectAsync("alice");
        await using RelayTestClient second = await server.ConnectAsync("alice", waitForWelcome: false);

        (await second.WaitForCloseAsync()).Should().Be(RelayCloseCodes.TryAgainLater);
        first.Welcome.GetProperty("type").GetString().Should().Be("welcome");
    }
}
