using System;
using System.Collections.Generic;
using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.BearerToken;
using Microsoft.AspNetCore.DataProtection;

namespace GroupRelay.Sample;

/// <summary>
/// Issues and validates the samples' bearer tokens: ASP.NET Core's own bearer-token format (an
/// <see cref="AuthenticationTicket"/> in a <see cref="TicketDataFormat"/>, protected with the purposes the
/// <c>AddBearerToken</c> handler uses), signed with the Data Protection key ring in the sample database.
/// </summary>
/// <remarks>
/// <para>
/// A token issued here is accepted by the ASP.NET Core sample's bearer handler, and a token that handler accepts is
/// accepted here, by every host whose Data Protection has the samples' application name and the key ring of the same
/// database (<see cref="SampleDataProtectionExtensions.AddSampleDataProtection"/>). That is how a host without
/// ASP.NET Core (the Fleck sample) checks the tokens of the console sample's login, and how its own tokens work on
/// the console sample's API.
/// </para>
/// <para>Tokens are secrets: nothing here logs them, and neither should a caller. Thread-safe.</para>
/// </remarks>
public sealed class SampleTokenService
{
    /// <summary>The authentication scheme named in the tickets: <see cref="BearerTokenDefaults.AuthenticationScheme"/>.</summary>
    public const string AuthenticationScheme = BearerTokenDefaults.AuthenticationScheme;

    /// <summary>The first Data Protection purpose of ASP.NET Core's bearer tokens (then the scheme, then <c>BearerToken</c>).</summary>
    public const string ProtectorPurpose = "Microsoft.AspNetCore.Authentication.BearerToken";

    private readonly ISecureDataFormat<AuthenticationTicket> _format;
    private readonly TimeProvider _time;

    /// <summary>Creates the service over a Data Protection provider.</summary>
    /// <param name="dataProtection">The provider; use the samples' (see <see cref="SampleDataProtectionExtensions.AddSampleDataProtection"/>).</param>
    /// <param name="lifetime">How long an issued token is valid; default <see cref="DefaultLifetime"/>.</param>
    /// <param name="timeProvider">The clock; default the system clock.</param>
    public SampleTokenService(IDataProtectionProvider dataProtection, TimeSpan? lifetime = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(dataProtection);
        if (lifetime is { } value && value <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(lifetime), value, "the token lifetime must be positive");
        }

        _format = CreateFormat(dataProtection);
        Lifetime = lifetime ?? DefaultLifetime;
        _time = timeProvider ?? TimeProvider.System;
    }

    /// <summary>How long a token is valid unless the host says otherwise: 12 hours.</summary>
    public static TimeSpan DefaultLifetime { get; } = TimeSpan.FromHours(12);

    /// <summary>How long a token issued by <see cref="Issue"/> is valid.</summary>
    public TimeSpan Lifetime { get; }

    /// <summary>
    /// The token format of ASP.NET Core's bearer handler for <see cref="AuthenticationScheme"/>, built the way the
    /// handler builds its default <see cref="BearerTokenOptions.BearerTokenProtector"/>.
    /// </summary>
    /// <param name="dataProtection">The Data Protection provider.</param>
    /// <returns>The format.</returns>
    public static ISecureDataFormat<AuthenticationTicket> CreateFormat(IDataProtectionProvider dataProtection)
    {
        ArgumentNullException.ThrowIfNull(dataProtection);
        return new TicketDataFormat(dataProtection.CreateProtector(ProtectorPurpose, AuthenticationScheme, "BearerToken"));
    }

    /// <summary>Issues a token for a user, valid for <see cref="Lifetime"/> from now.</summary>
    /// <param name="userId">The user id (the <see cref="ClaimTypes.NameIdentifier"/> and <see cref="ClaimTypes.Name"/> claims).</param>
    /// <returns>The token.</returns>
    /// <remarks>It does not check that the user exists: that is the caller's login logic.</remarks>
    public string Issue(string userId)
    {
        ArgumentException.ThrowIfNullOrEmpty(userId);
        DateTimeOffset now = _time.GetUtcNow();
        var identity = new ClaimsIdentity(
            new[] { new Claim(ClaimTypes.NameIdentifier, userId), new Claim(ClaimTypes.Name, userId) },
            AuthenticationScheme);
        var ticket = new AuthenticationTicket(
            new ClaimsPrincipal(identity),
            new AuthenticationProperties { IssuedUtc = now, ExpiresUtc = now + Lifetime },
            AuthenticationScheme);
        return _format.Protect(ticket);
    }

    /// <summary>Issues a token for each user.</summary>
    /// <param name="userIds">The user ids.</param>
    /// <returns>User id to token, in the order given.</returns>
    public IReadOnlyDictionary<string, string> IssueAll(IEnumerable<string> userIds)
    {
        ArgumentNullException.ThrowIfNull(userIds);
        var tokens = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string userId in userIds)
        {
            tokens[userId] = Issue(userId);
        }

        return tokens;
    }

    /// <summary>
    /// Validates a token as the bearer handler does (it unprotects, and it has an expiry that is still ahead) and
    /// returns its user id; null for a missing, malformed, forged or expired token.
    /// </summary>
    /// <param name="token">The token, or null.</param>
    /// <returns>The user id, or null.</returns>
    public string? ValidateAndGetUserId(string? token)
    {
        if (string.IsNullOrEmpty(token))
        {
            return null;
        }

        // TicketDataFormat.Unprotect returns null (never throws) for a token it cannot read or verify.
        AuthenticationTicket? ticket = _format.Unprotect(token);
        if (ticket?.Properties.ExpiresUtc is not { } expires || _time.GetUtcNow() >= expires)
        {
            return null;
        }

        string? userId = ticket.Principal.FindFirstValue(ClaimTypes.NameIdentifier) ?? ticket.Principal.Identity?.Name;
        return string.IsNullOrEmpty(userId) ? null : userId;
    }
}
