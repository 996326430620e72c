using System;
using System.Net;
using System.Net.Http;
using System.Net.WebSockets;
using System.Threading;
using System.Threading.Tasks;
using FluentAssertions;
using GroupRelay.Specification.Tests;
using Xunit;

namespace GroupRelay.Transports.AspNetCore.Tests;

/// <summary>What only the ASP.NET Core transport has: plain HTTP on the endpoint, the host's authentication, the user id claim.</summary>
public sealed class AspNetCoreEndpointTests
{
    private static readonly TimeSpan Timeout = RelayTestClient.DefaultTimeout;

    [Fact]
    public async Task PlainGetOnTheEndpoint_Is400WithAShortText()
    {
        await using var server = new KestrelRelayHarness();
        await server.StartAsync(_ => { }).WaitAsync(Timeout);
        using var http = new HttpClient { Timeout = Timeout };

        using HttpResponseMessage response = await http.GetAsync(new Uri(server.HttpUri + "?access_token=alice"));

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        string text = await response.Content.ReadAsStringAsync().WaitAsync(Timeout);
        text.Should().NotBeNullOrWhiteSpace().And.Subject.Length.Should().BeLessThan(200);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task PlainGet_IsAnswered401ForARefusedIdentity_And400ForAValidOne_SoABrowserClientCanTellThemApart(bool requireAuthorization)
    {
        await using var server = new KestrelRelayHarness(requireAuthorization: requireAuthorization);
        await server.StartAsync(_ => { }).WaitAsync(Timeout);
        using var http = new HttpClient { Timeout = Timeout };

        using HttpResponseMessage refused = await http.GetAsync(new Uri(server.HttpUri + "?access_token=!anonymous"));
        using HttpResponseMessage none = await http.GetAsync(server.HttpUri);
        using HttpResponseMessage valid = await http.GetAsync(new Uri(server.HttpUri + "?access_token=alice"));

        refused.StatusCode.Should().Be(HttpStatusCode.Unauthorized, "PROTOCOL.md section 6.4: the identity is checked before the upgrade");
        none.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        valid.StatusCode.Should().Be(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task PlainGet_WithoutTheUserIdClaim_Is401()
    {
        await using var server = new KestrelRelayHarness(o => o.UserIdClaimType = "no_such_claim");
        await server.StartAsync(_ => { }).WaitAsync(Timeout);
        using var http = new HttpClient { Timeout = Timeout };

        using HttpResponseMessage response = await http.GetAsync(new Uri(server.HttpUri + "?access_token=alice"));

        response.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task AnonymousUpgrade_Is401_AndNoWebSocket(bool requireAuthorization)
    {
        await using var server = new KestrelRelayHarness(requireAuthorization: requireAuthorization);
        await server.StartAsync(_ => { }).WaitAsync(Timeout);

        (HttpStatusCode? status, WebSocketState state) = await TryConnectAsync(server.UriFor("!anonymous"));

        status.Should().Be(HttpStatusCode.Unauthorized);
        state.Should().NotBe(WebSocketState.Open);
        (await ConnectedCountAsync(server)).Should().Be(0);
    }

    [Fact]
    public async Task UserIdClaimType_PicksTheClaimThatBecomesTheUserId()
    {
        await using var server = new KestrelRelayHarness(o => o.UserIdClaimType = KestrelRelayHarness.TenantUserClaimType);
        server.Membership.SetGroups(KestrelRelayHarness.TenantUserPrefix + "alice", "team");
        await server.StartAsync(_ => { }).WaitAsync(Timeout);

        await using RelayTestClient client = await server.ConnectAsync("alice");

        client.Welcome.GetProperty("user").GetString().Should().Be(KestrelRelayHarness.TenantUserPrefix + "alice");
        client.Welcome.GetProperty("groups")[0].GetString().Should().Be("team");
    }

    [Fact]
    public async Task UserIdClaimType_ClaimMissing_Is401_AndNoWebSocket()
    {
        await using var server = new KestrelRelayHarness(o => o.UserIdClaimType = "no_such_claim");
        await server.StartAsync(_ => { }).WaitAsync(Timeout);

        (HttpStatusCode? status, WebSocketState state) = await TryConnectAsync(server.UriFor("alice"));

        status.Should().Be(HttpStatusCode.Unauthorized);
        state.Should().NotBe(WebSocketState.Open);
    }

    [Fact]
    public async Task UserIdClaimType_Default_UsesNameIdentifier()
    {
        await using var server = new KestrelRelayHarness();
        await server.StartAsync(_ => { }).WaitAsync(Timeout);

        await using RelayTestClient client = await server.ConnectAsync("alice");

        client.Welcome.GetProperty("user").GetString().Should().Be("alice");
    }

    private static async Task<(HttpStatusCode? Status, WebSocketState State)> TryConnectAsync(Uri uri)
    {
        using var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        using var timeout = new CancellationTokenSource(Timeout);
        try
        {
            await socket.ConnectAsync(uri, timeout.Token);
        }
        catch (WebSocketException)
        {
            // Expected: the upgrade was refused.
        }

        return (socket.HttpStatusCode, socket.State);
    }

    private static async Task<int> ConnectedCountAsync(KestrelRelayHarness server)
        => (await server.Relay.GetOnlineUsersAsync().AsTask().WaitAsync(Timeout)).Count;
}
