using System;
using System.Linq;
using System.Security.Claims;
using System.Text.Encodings.Web;
using System.Threading;
using System.Threading.Tasks;
using GroupRelay.Internal;
using GroupRelay.Testing;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace GroupRelay.Redis.Tests;

/// <summary>One relay node: a real Kestrel host on 127.0.0.1 (free port) with <c>AddRedis()</c>, test authentication <c>?access_token=USER</c>.</summary>
public sealed class RedisRelayNodeHost : IAsyncDisposable
{
    private WebApplication? _app;

    public Uri RelayUri { get; private set; } = null!;

    public IServiceProvider Services => _app?.Services ?? throw new InvalidOperationException("Not started.");

    public IGroupRelay Relay => Services.GetRequiredService<IGroupRelay>();

    internal RedisRelayHostedService Node => Services.GetRequiredService<RedisRelayHostedService>();

    /// <param name="redisEndpoint">The test's own redis-server.</param>
    /// <param name="membership">The membership source.</param>
    /// <param name="configure">Relay options.</param>
    /// <param name="configureRedis">Backplane options on top of the fast test defaults.</param>
    /// <param name="addLast">Registrations that must come after the backplane (the specification harness's test services).</param>
    /// <param name="cancellationToken">Cancels the start.</param>
    public async Task StartAsync(string redisEndpoint, IMembershipSource membership, Action<GroupRelayOptions> configure, Action<RedisRelayOptions>? configureRedis = null, Func<IGroupRelayBuilder, IGroupRelayBuilder>? addLast = null, CancellationToken cancellationToken = default)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Services.AddAuthentication(TestAuthHandler.SchemeName).AddScheme<AuthenticationSchemeOptions, TestAuthHandler>(TestAuthHandler.SchemeName, null);
        builder.Services.AddAuthorization();
        IGroupRelayBuilder relay = builder.Services.AddGroupRelay(configure).AddMembershipSource(membership).AddRedis(redisEndpoint, options =>
        {
            options.HeartbeatInterval = TimeSpan.FromMilliseconds(250);
            options.NodeTimeout = TimeSpan.FromSeconds(2);
            options.CommandTimeoutMilliseconds = 1000;
            configureRedis?.Invoke(options);
        });
        addLast?.Invoke(relay);
        _app = builder.Build();
        _app.UseWebSockets();
        _app.UseAuthentication();
        _app.UseAuthorization();
        _app.MapGroupRelay("/relay").RequireAuthorization();
        await _app.StartAsync(cancellationToken);
        string address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        RelayUri = new Uri(address.Replace("http://", "ws://", StringComparison.Ordinal) + "/relay");
    }

    public Uri UriFor(string user) => new(RelayUri + "?access_token=" + Uri.EscapeDataString(user));

    public async Task StopAsync()
    {
        if (_app is not null)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            await _app.StopAsync(timeout.Token);
        }
    }

    /// <summary>The node dies without cleaning up: Redis keeps its entries until another node notices the missing heartbeats.</summary>
    public async Task CrashAsync()
    {
        await Node.CrashAsync();
        WebApplication? app = _app;
        _app = null;
        if (app is not null)
        {
            // An already cancelled stop: Kestrel aborts the sockets instead of closing them gracefully.
            using var aborted = new CancellationTokenSource();
            await aborted.CancelAsync();
            try
            {
                await app.StopAsync(aborted.Token);
            }
            catch (OperationCanceledException)
            {
            }
            catch (AggregateException)
            {
            }

            await app.DisposeAsync();
        }
    }

    public async ValueTask DisposeAsync()
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
}
