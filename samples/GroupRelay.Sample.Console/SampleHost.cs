using System;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.AspNetCore.Authentication.BearerToken;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace GroupRelay.Sample;

/// <summary>
/// The sample chat host: the SQLite store, demo login with bearer tokens, the relay at <c>/relay</c> and the page.
/// <see cref="BuildAsync"/> is what both <c>Program</c> and the tests start.
/// </summary>
internal static class SampleHost
{
    /// <summary>The relay's path. The <c>access_token</c> query parameter is accepted on this path only.</summary>
    public const string RelayPath = "/relay";

    /// <summary>Runs the host until Ctrl+C; returns the process exit code.</summary>
    public static async Task<int> RunAsync(string[] args)
    {
        SampleHostOptions options;
        try
        {
            options = SampleHostOptions.Parse(args);
        }
        catch (ArgumentException ex)
        {
            await Console.Error.WriteLineAsync($"error: {SampleCommandLine.ErrorMessage(ex)}");
            return 2;
        }

        if (options.ShowHelp)
        {
            Console.WriteLine(SampleHostOptions.Usage);
            return 0;
        }

        WebApplication app;
        try
        {
            app = await BuildAsync(options, configure: null);
        }
        catch (SampleSeedException ex)
        {
            await Console.Error.WriteLineAsync($"error: {ex.Message}");
            return 1;
        }

        await using (app)
        {
            await app.StartAsync();
            string url = (Addresses(app).FirstOrDefault() ?? options.Urls).TrimEnd('/') + "/";
            string database = app.Services.GetRequiredService<SampleDatabase>().Path;
            SampleLog.Ready(app.Logger, url, database);
            await app.WaitForShutdownAsync();
        }

        return 0;
    }

    /// <summary>Builds the host from command-line arguments (see <see cref="SampleHostOptions.Usage"/>).</summary>
    /// <param name="args">The arguments.</param>
    /// <param name="configure">Extra settings (the tests add log capture), applied before the app is built.</param>
    /// <exception cref="ArgumentException">An argument is unknown or lacks its value.</exception>
    /// <exception cref="SampleSeedException">The seed file is invalid.</exception>
    public static Task<WebApplication> BuildAsync(string[] args, Action<WebApplicationBuilder>? configure = null)
        => BuildAsync(SampleHostOptions.Parse(args), configure);

    /// <summary>The addresses the started host listens on (with the real port when it was 0).</summary>
    public static string[] Addresses(WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        return app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.ToArray() ?? [];
    }

    private static async Task<WebApplication> BuildAsync(SampleHostOptions options, Action<WebApplicationBuilder>? configure)
    {
        // The page and appsettings live in the build output; the database path is relative to the working directory.
        WebApplicationBuilder builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            ApplicationName = typeof(SampleHost).Assembly.GetName().Name,
            ContentRootPath = AppContext.BaseDirectory,
            WebRootPath = Path.Combine(AppContext.BaseDirectory, "wwwroot"),
        });
        builder.WebHost.UseUrls(options.Urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

        // The request log line holds the query string, and the browser's relay URL carries ?access_token=...:
        // tokens are never logged, so that line is off.
        builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.Warning);

        // "No XML encryptor configured": known and documented on SqliteXmlRepository; SampleStartupLog.DatabaseOpened says it once.
        builder.Logging.AddFilter("Microsoft.AspNetCore.DataProtection", LogLevel.Error);

        var database = new SampleDatabase(options.DatabasePath);
        SampleSeed? seed = options.SeedPath is null ? null : SampleSeed.Load(options.SeedPath);
        bool seeded = await database.InitializeAsync(seed);
        builder.Services.AddSingleton(database);
        builder.Services.AddSampleDataProtection(database);

        // Tokens in the bearer handler's own format, from the key ring in the database: the Fleck sample on the same
        // database issues and accepts the same tokens (SampleTokenService).
        builder.Services.AddSampleTokens(SampleTokenService.DefaultLifetime);

        builder.Services.AddAuthentication(BearerTokenDefaults.AuthenticationScheme)
            .AddBearerToken(bearer =>
            {
                bearer.BearerTokenExpiration = SampleTokenService.DefaultLifetime;
                bearer.Events = new BearerTokenEvents
                {
                    // Browsers cannot set headers on a WebSocket: the relay path (only) also takes ?access_token=.
                    // Compared as routing compares it (case-insensitive): a path that reaches the relay finds its token.
                    OnMessageReceived = context =>
                    {
                        if (context.Request.Path.StartsWithSegments(RelayPath, StringComparison.OrdinalIgnoreCase)
                            && context.Request.Query.TryGetValue("access_token", out var token)
                            && !string.IsNullOrEmpty(token))
                        {
                            context.Token = token;
                        }

                        return Task.CompletedTask;
                    },
                };
            });
        builder.Services.AddAuthorization();
        IGroupRelayBuilder relay = builder.Services
            .AddGroupRelay(relayOptions =>
            {
                relayOptions.HistoryMessagesPerGroup = options.HistoryMessages ?? relayOptions.HistoryMessagesPerGroup;

                // A page reload comes back within a second or two: nobody sees "left" then "joined".
                relayOptions.PresenceGracePeriod = TimeSpan.FromSeconds(3);
            })
            .AddMembershipSource(new SqliteMembershipSource(database))
            .AddMessageFilter<SampleMessageRules>()
            .AddMessageObserver(new SampleMessageStore(database));
        builder.Services.AddHealthChecks().AddGroupRelay();
        if (options.Redis is not null)
        {
            // Every host of one cluster shares the database (so the token key ring) and this Redis.
            relay.AddRedis(options.Redis, redis => redis.Prefix = "grouprelay-sample");
        }
        configure?.Invoke(builder);

        WebApplication app = builder.Build();
        ILogger logger = app.Logger;
        SampleStartupLog.DatabaseOpened(logger, database, options.SeedPath, seed, seeded);

        app.Use(static (context, next) =>
        {
            // The page loads only its own files; WebSocket connections may go to another relay (?relay=ws://...).
            context.Response.Headers.ContentSecurityPolicy = "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; frame-ancestors 'none'";
            context.Response.Headers.XContentTypeOptions = "nosniff";
            context.Response.Headers["Referrer-Policy"] = "no-referrer";
            return next(context);
        });
        app.UseDefaultFiles();
        app.UseStaticFiles(new StaticFileOptions
        {
            // A sample is edited and reloaded: always revalidate, so a change to app.js shows at once.
            OnPrepareResponse = static file => file.Context.Response.Headers.CacheControl = "no-cache",
        });
        app.UseWebSockets();
        app.UseAuthentication();
        app.UseAuthorization();

        SampleApi.Map(app);
        app.MapHealthChecks("/healthz");
        app.MapGroupRelay(RelayPath).RequireAuthorization();
        return app;
    }

    /// <summary>Starts a built host, for tests; returns its first address.</summary>
    public static async Task<Uri> StartAsync(WebApplication app, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(app);
        await app.StartAsync(cancellationToken);
        return new Uri(Addresses(app).First());
    }
}
