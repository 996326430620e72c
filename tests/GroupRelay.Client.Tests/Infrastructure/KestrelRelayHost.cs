using System;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using GroupRelay.Testing;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace GroupRelay.Client.Tests.Infrastructure;

/// <summary>
/// One relay node: a real Kestrel host on 127.0.0.1 with <c>MapGroupRelay("/relay").RequireAuthorization()</c> and the
/// test authentication (the bearer token, from the header or <c>?access_token=</c>, is the user id; <c>!anonymous</c> is
/// refused with 401). In memory, or on Redis when given an endpoint. It can stop and start again on the same port
/// (a relay restart), and counts the requests on the relay path (upgrade attempts).
/// </summary>
public sealed class KestrelRelayHost : IAsyncDisposable
{
    private readonly IMembershipSource _membership;
    private readonly string? _redisEndpoint;
    private readonly Action<GroupRelayOptions> _configure;
    private WebApplication? _app;
    private int _port;
    private int _upgradeAttempts;

    public KestrelRelayHost(IMembershipSource membership, string? redisEndpoint = null, Action<GroupRelayOptions>? configure = null)
    {
        _membership = membership;
        _redisEndpoint = redisEndpoint;
        _configure = configure ?? (_ => { });
    }

    public Uri RelayUri => new($"ws://127.0.0.1:{_port}/relay");

    public int Port => _port;

    /// <summary>Requests on /relay that reached the host (each upgrade attempt, refused or not).</summary>
    public int UpgradeAttempts => Volatile.Read(ref _upgradeAttempts);

    public IGroupRelay Relay => (_app ?? throw new InvalidOperationException("Not started.")).Services.GetRequiredService<IGroupRelay>();

    /// <summary>Starts the host: on a free port the first time, on the same port after a stop.</summary>
    public async Task StartAsync()
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        if (Environment.GetEnvironmentVariable("GROUPRELAY_TEST_LOG") == "1")
        {
            builder.Logging.AddSimpleConsole().SetMinimumLevel(LogLevel.Debug);
        }

        builder.WebHost.UseUrls($"http://127.0.0.1:{_port}");
        builder.Services.AddAuthentication(TestAuthHandler.SchemeName).AddScheme<AuthenticationSchemeOptions, TestAuthHandler>(TestAuthHandler.SchemeName, null);
        builder.Services.AddAuthorization();
        IGroupRelayBuilder relay = builder.Services.AddGroupRelay(_configure).AddMembershipSource(_membership);
        if (_redisEndpoint is not null)
        {
            relay.AddRedis(_redisEndpoint, options =>
            {
                options.HeartbeatInterval = TimeSpan.FromMilliseconds(250);
                options.NodeTimeout = TimeSpan.FromSeconds(2);
                options.CommandTimeoutMilliseconds = 2000;
            });
        }

        WebApplication app = builder.Build();
        app.Use(async (HttpContext context, RequestDelegate next) =>
        {
            if (context.Request.Path.StartsWithSegments("/relay"))
            {
                Interlocked.Increment(ref _upgradeAttempts);
            }

            await next(context);
        });
        app.UseWebSockets();
        app.UseAuthentication();
        app.UseAuthorization();
        app.MapGroupRelay("/relay").RequireAuthorization();
        await app.StartAsync();
        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        _port = new Uri(address).Port;
        _app = app;
    }

    /// <summary>Stops gracefully: every client gets 1001. The relay's in-memory state goes with it.</summary>
    public async Task StopAsync()
    {
        WebApplication? app = _app;
        _app = null;
        if (app is not null)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            await app.StopAsync(timeout.Token);
            await app.DisposeAsync();
        }
    }

    public ValueTask DisposeAsync() => new(StopAsync());
}
