using System;
using System.Collections.Generic;
using System.Linq;
using System.Security.Claims;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;

namespace GroupRelay.Sample;

/// <summary>The sample's HTTP API: demo login, the user list for the login picker, and the caller's friends.</summary>
internal static class SampleApi
{
    public static void Map(IEndpointRouteBuilder app)
    {
        RouteGroupBuilder api = app.MapGroup("/api");
        api.MapPost("/login", LoginAsync);
        api.MapGet("/users", async (SampleDatabase db, CancellationToken ct) => Results.Ok(await db.GetUsersAsync(ct)));
        api.MapGet("/me", (ClaimsPrincipal user) => Results.Ok(new { user = UserId(user) })).RequireAuthorization();
        api.MapGet("/groups/{group}/messages", GetStoredMessagesAsync).RequireAuthorization();
        api.MapGet("/me/friends", async (ClaimsPrincipal user, SampleDatabase db, CancellationToken ct)
            => Results.Ok(new { friends = await db.GetFriendsOfAsync(UserId(user), ct) })).RequireAuthorization();
    }

    /// <summary>
    /// DEMO LOGIN, NO PASSWORD: anyone may log in as any user in the database. It shows how a real login hands the
    /// relay a token; a real application checks credentials here.
    /// </summary>
    private static async Task<IResult> LoginAsync(HttpContext http, SampleDatabase db, SampleTokenService tokens, ILoggerFactory loggers)
    {
        string? user;
        try
        {
            using JsonDocument body = await JsonDocument.ParseAsync(http.Request.Body, default, http.RequestAborted);
            user = body.RootElement.ValueKind == JsonValueKind.Object
                && body.RootElement.TryGetProperty("user", out JsonElement value)
                && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
        }
        catch (JsonException)
        {
            return Problem("the body must be JSON like {\"user\":\"alice\"}");
        }

        if (string.IsNullOrEmpty(user) || user.Length > SampleSeed.MaxIdLength)
        {
            return Problem("the body must be JSON like {\"user\":\"alice\"}, with \"user\" a string of 1 to 128 characters");
        }

        ILogger logger = loggers.CreateLogger("GroupRelay.Sample.Login");
        if (!await db.UserExistsAsync(user, http.RequestAborted))
        {
            SampleLog.LoginUnknownUser(logger, user);
            return Results.NotFound(new { error = $"there is no user '{user}' in the sample database" });
        }

        // The bearer handler's own token format (what Results.SignIn would write), returned in the sample's own shape
        // {"token": ...}. The keys live in the sample database, so the Fleck sample accepts the token too.
        string token = tokens.Issue(user);
        SampleLog.DemoLogin(logger, user);
        return Results.Ok(new { token, user, expiresIn = (long)tokens.Lifetime.TotalSeconds });
    }

    /// <summary>
    /// The messages the sample stored (<see cref="SampleMessageStore"/>), for a page whose relay no longer retains them:
    /// the newest <c>limit</c> (1 to 200, default 50) with a row id below <c>before</c>, oldest first. Members only.
    /// </summary>
    private static async Task<IResult> GetStoredMessagesAsync(string group, long? before, int? limit, ClaimsPrincipal user, SampleDatabase db, CancellationToken ct)
    {
        if (limit is < 1 or > 200)
        {
            return Problem("limit is 1 to 200");
        }

        if (!(await db.GetGroupsOfAsync(UserId(user), ct)).Contains(group, StringComparer.Ordinal))
        {
            return Results.Json(new { error = $"you are not a member of group '{group}'" }, statusCode: StatusCodes.Status403Forbidden);
        }

        IReadOnlyList<StoredMessage> rows = await db.GetMessagesAsync(group, before, limit ?? 50, ct);
        return Results.Ok(new
        {
            messages = rows.Select(r => new { id = r.Id, seq = r.Seq, from = r.Sender, body = JsonDocument.Parse(r.Body).RootElement, stored = r.StoredUtc }),
        });
    }

    private static IResult Problem(string message) => Results.BadRequest(new { error = message });

    private static string UserId(ClaimsPrincipal user)
        => user.FindFirstValue(ClaimTypes.NameIdentifier) ?? user.Identity?.Name ?? throw new InvalidOperationException("authenticated user without id");
}
