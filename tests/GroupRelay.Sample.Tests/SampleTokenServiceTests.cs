using System;
using System.Security.Claims;
using System.Threading.Tasks;
using FluentAssertions;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.BearerToken;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Xunit;

namespace GroupRelay.Sample.Tests;

/// <summary>
/// SampleTokenService writes and reads exactly the tokens of ASP.NET Core's bearer handler (the one the console sample
/// configures with AddBearerToken): checked against the handler's own default protector, in both directions.
/// </summary>
public sealed class SampleTokenServiceTests
{
    [Fact]
    public async Task ServiceTokens_AndTheBearerHandlersOwnTokens_AreTheSameFormat()
    {
        await using SampleServer server = await SampleServer.StartAsync();
        SampleTokenService tokens = server.Services.GetRequiredService<SampleTokenService>();
        BearerTokenOptions handler = server.Services.GetRequiredService<IOptionsMonitor<BearerTokenOptions>>().Get(BearerTokenDefaults.AuthenticationScheme);

        // The handler's default protector (built by ASP.NET Core, not by the sample) reads a service token ...
        AuthenticationTicket? ticket = handler.BearerTokenProtector.Unprotect(tokens.Issue("alice"));
        ticket.Should().NotBeNull();
        ticket!.Principal.FindFirstValue(ClaimTypes.NameIdentifier).Should().Be("alice");
        ticket.Properties.ExpiresUtc.Should().BeCloseTo(DateTimeOffset.UtcNow + tokens.Lifetime, TimeSpan.FromMinutes(1));

        // ... and the service reads a token the handler's protector wrote.
        DateTimeOffset now = DateTimeOffset.UtcNow;
        var handlerTicket = new AuthenticationTicket(
            new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.NameIdentifier, "bob")], BearerTokenDefaults.AuthenticationScheme)),
            new AuthenticationProperties { IssuedUtc = now, ExpiresUtc = now.AddMinutes(5) },
            BearerTokenDefaults.AuthenticationScheme);
        tokens.ValidateAndGetUserId(handler.BearerTokenProtector.Protect(handlerTicket)).Should().Be("bob");

        // A refresh token (another purpose) is not an access token.
        tokens.ValidateAndGetUserId(handler.RefreshTokenProtector.Protect(handlerTicket)).Should().BeNull();
    }

    [Fact]
    public async Task ExpiredMissingOrGarbageTokens_AreRejected_AndTheLoginUsesTheService()
    {
        await using SampleServer server = await SampleServer.StartAsync();
        SampleTokenService tokens = server.Services.GetRequiredService<SampleTokenService>();
        var clock = new ManualClock(DateTimeOffset.UtcNow);
        var later = new SampleTokenService(server.Services.GetRequiredService<Microsoft.AspNetCore.DataProtection.IDataProtectionProvider>(), TimeSpan.FromMinutes(1), clock);

        string token = later.Issue("carol");
        later.ValidateAndGetUserId(token).Should().Be("carol");
        tokens.ValidateAndGetUserId(token).Should().Be("carol", "same key ring and format, whatever the lifetime");
        clock.Now += TimeSpan.FromMinutes(1);
        later.ValidateAndGetUserId(token).Should().BeNull("expired");

        tokens.ValidateAndGetUserId(null).Should().BeNull();
        tokens.ValidateAndGetUserId(string.Empty).Should().BeNull();
        tokens.ValidateAndGetUserId("garbage!").Should().BeNull();
        tokens.ValidateAndGetUserId(await server.LoginAsync("dave")).Should().Be("dave");
        FluentActions.Invoking(() => tokens.Issue(string.Empty)).Should().Throw<ArgumentException>();
    }

    private sealed class ManualClock(DateTimeOffset start) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = start;

        public override DateTimeOffset GetUtcNow() => Now;
    }
}
