using System;
using System.Linq;
using System.Security.Claims;
using System.Text.Encodings.Web;
using System.Threading.Tasks;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace GroupRelay.Testing;

// Linked into every Kestrel host of the tests and of the load harness.
/// <summary>Test authentication: the <c>access_token</c> query value (or bearer header) is the user id; <c>!anonymous</c> or none is anonymous.</summary>
internal sealed class TestAuthHandler : AuthenticationHandler<AuthenticationSchemeOptions>
{
    public const string SchemeName = "Test";

    /// <summary>A second claim, so a test can pick another claim as the user id.</summary>
    public const string TenantUserClaimType = "tenant_user";

    /// <summary>The prefix of the <see cref="TenantUserClaimType"/> claim's value.</summary>
    public const string TenantUserPrefix = "tenant/";

    public TestAuthHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder)
        : base(options, logger, encoder)
    {
    }

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        string? token = Request.Query["access_token"].FirstOrDefault();
        string? header = Request.Headers.Authorization.FirstOrDefault();
        if (token is null && header is not null && header.StartsWith("Bearer ", StringComparison.Ordinal))
        {
            token = header["Bearer ".Length..];
        }

        if (string.IsNullOrEmpty(token) || token == "!anonymous")
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        var identity = new ClaimsIdentity(new[] { new Claim(ClaimTypes.NameIdentifier, token), new Claim(TenantUserClaimType, TenantUserPrefix + token) }, SchemeName);
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName)));
    }
}
