using System;
using System.Collections.Generic;
using System.Security.Cryptography;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Security.Claims;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using FluentAssertions;
using GroupRelay.Specification.Tests;
using Microsoft.AspNetCore.Authentication.BearerToken;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Xunit;

namespace GroupRelay.Transports.AspNetCore.Tests;

/// <summary>
/// Who may open the relay, decided before the upgrade (issue 14 §2 and §3): the Origin allow-list (403), the
/// connection limits (429), and the access token from the query for the host's own authentication scheme.
/// </summary>
public sealed class AspNetCoreAdmissionTests
{
    private static readonly TimeSpan Timeout = RelayTestClient.DefaultTimeout;

    /// <summary>Opens a WebSocket and returns the HTTP status of the handshake (101 when it was accepted).</summary>
    private static async Task<HttpStatusCode> HandshakeAsync(Uri uri, string? origin = null)
    {
        using var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        if (origin is not null)
        {
            socket.Options.SetRequestHeader("Origin", origin);
        }

        try
        {
            using var timeout = new CancellationTokenSource(Timeout);
            await socket.ConnectAsync(uri, timeout.Token);
            HttpStatusCode status = socket.HttpStatusCode;
            await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
            return status;
        }
        catch (WebSocketException)
        {
            return socket.HttpStatusCode;
        }
    }

    [Fact]
    public async Task Origin_ByDefault_TheRelaysOwnOriginAndNoOriginAreAllowed_AnotherSiteGets403()
    {
        await using var server = new KestrelRelayHarness();
        server.Membership.SetGroups("alice", "team");
        await server.StartAsync(_ => { }).WaitAsync(Timeout);
        var uri = new Uri(server.RelayUri + "?access_token=alice");
        string own = server.HttpUri.GetLeftPart(UriPartial.Authority);

        (await HandshakeAsync(uri)).Should().Be(HttpStatusCode.SwitchingProtocols, "a client without Origin is not a browser");
        (await HandshakeAsync(uri, own)).Should().Be(HttpStatusCode.SwitchingProtocols, "the relay's own origin");
        (await HandshakeAsync(uri, own.ToUpperInvariant().Replace("HTTP", "http", StringComparison.Ordinal) + "/")).Should().Be(HttpStatusCode.SwitchingProtocols, "compared case-insensitively, without a trailing slash");
        (await HandshakeAsync(uri, "https://evil.example")).Should().Be(HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task Origin_WithAnAllowList_OnlyThoseOrigins_AndAStarAllowsAny()
    {
        await using var listed = new KestrelRelayHarness(o => o.AllowedOrigins.Add("https://chat.example.com"));
        listed.Membership.SetGroups("alice", "team");
        await listed.StartAsync(_ => { }).WaitAsync(Timeout);
        await using var any = new KestrelRelayHarness(o => o.AllowedOrigins.Add("*"));
        any.Membership.SetGroups("alice", "team");
        await any.StartAsync(_ => { }).WaitAsync(Timeout);

        (await HandshakeAsync(new Uri(listed.RelayUri + "?access_token=alice"), "https://chat.example.com")).Should().Be(HttpStatusCode.SwitchingProtocols);
        (await HandshakeAsync(new Uri(listed.RelayUri + "?access_token=alice"), listed.HttpUri.GetLeftPart(UriPartial.Authority))).Should().Be(HttpStatusCode.Forbidden, "a list replaces the default");
        (await HandshakeAsync(new Uri(any.RelayUri + "?access_token=alice"), "https://anywhere.example")).Should().Be(HttpStatusCode.SwitchingProtocols);
    }

    [Fact]
    public async Task ConnectionsPerUser_OverTheLimit_Is429BeforeTheUpgrade_AndASlotFreesWhenAConnectionCloses()
    {
        await using var server = new KestrelRelayHarness();
        server.Membership.SetGroups("alice", "team");
        await server.StartAsync(o => o.MaxConnectionsPerUser = 1).WaitAsync(Timeout);
        using var http = new HttpClient { Timeout = Timeout };

        RelayTestClient first = await server.ConnectAsync("alice");
        (await HandshakeAsync(new Uri(server.RelayUri + "?access_token=alice"))).Should().Be(HttpStatusCode.TooManyRequests);
        (await HandshakeAsync(new Uri(server.RelayUri + "?access_token=bob"))).Should().Be(HttpStatusCode.SwitchingProtocols);

        await first.DisposeAsync();
        bool admitted = false;
        for (DateTime deadline = DateTime.UtcNow + Timeout; !admitted && DateTime.UtcNow < deadline; await Task.Delay(50))
        {
            admitted = await HandshakeAsync(new Uri(server.RelayUri + "?access_token=alice")) == HttpStatusCode.SwitchingProtocols;
        }

        admitted.Should().BeTrue("the closed connection gave its slot back");
    }

    [Theory]
    [InlineData("bearer", "access_token", true)]
    [InlineData("bearer", null, false)]
    [InlineData("jwt", "access_token", true)]
    [InlineData("jwt", null, false)]
    public async Task QueryToken_WithTheHostsOwnScheme_AuthenticatesTheUpgrade_OnlyWhenTheOptionIsOn(string scheme, string? parameter, bool accepted)
    {
        // JWT: a key of the test's own; the token says sub = carol. Bearer: ASP.NET Core's own token from a sign-in.
        var key = new SymmetricSecurityKey(RandomNumberGenerator.GetBytes(32));
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        if (scheme == "jwt")
        {
            builder.Services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer(jwt =>
            {
                jwt.MapInboundClaims = false;
                jwt.TokenValidationParameters = new TokenValidationParameters { IssuerSigningKey = key, ValidateIssuer = false, ValidateAudience = false, NameClaimType = "sub" };
            });
        }
        else
        {
            builder.Services.AddAuthentication(BearerTokenDefaults.AuthenticationScheme).AddBearerToken();
        }

        builder.Services.AddAuthorization();
        var membership = new InMemoryMembershipSource();
        membership.SetGroups("carol", "team");
        builder.Services.AddGroupRelay().AddMembershipSource(membership);
        await using WebApplication app = builder.Build();
        app.UseWebSockets();
        app.UseAuthentication();
        app.MapPost("/login", () => Results.SignIn(new ClaimsPrincipal(new ClaimsIdentity(new[] { new Claim(ClaimTypes.NameIdentifier, "carol") }, BearerTokenDefaults.AuthenticationScheme))));
        app.MapGroupRelay("/relay", o => o.AccessTokenQueryParameter = parameter);
        await app.StartAsync().WaitAsync(Timeout);
        try
        {
            string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            string token;
            if (scheme == "jwt")
            {
                token = new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
                {
                    Claims = new Dictionary<string, object> { ["sub"] = "carol" },
                    Expires = DateTime.UtcNow.AddMinutes(5),
                    SigningCredentials = new SigningCredentials(key, SecurityAlgorithms.HmacSha256),
                });
            }
            else
            {
                using var http = new HttpClient { Timeout = Timeout };
                using HttpResponseMessage login = await http.PostAsync(new Uri(address + "/login"), null);
                token = (await login.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("accessToken").GetString()!;
            }

            var relay = new Uri(address.Replace("http://", "ws://", StringComparison.Ordinal) + "/relay?access_token=" + Uri.EscapeDataString(token));
            if (accepted)
            {
                await using RelayTestClient carol = await RelayTestClient.ConnectAsync(relay, user: "carol");
                carol.Welcome.GetProperty("user").GetString().Should().Be("carol");
            }
            else
            {
                (await HandshakeAsync(relay)).Should().Be(HttpStatusCode.Unauthorized);
            }
        }
        finally
        {
            await app.StopAsync().WaitAsync(Timeout);
        }
    }
}
