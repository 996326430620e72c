using System;
using System.Linq;
using System.Security.Claims;
using System.Text.Encodings.Web;
using System.Threading;
using System.Threading.Tasks;
using GroupRelay.Specification.Tests;
using GroupRelay.Testing;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace GroupRelay.Transports.AspNetCore.Tests;

/// <summary>A real Kestrel host on 127.0.0.1 (free port) serving <c>MapGroupRelay("/relay").RequireAuthorization()</c>.</summary>
public sealed class KestrelRelayHarness : RelayServerHarness
{
    /// <summary>A second claim the test authentication adds: its value is this prefix and the token.</summary>
    public const string TenantUserClaimType = TestAuthHandler.TenantUserClaimType;
    public const string TenantUserPrefix = TestAuthHandler.TenantUserPrefix;

    private readonly Action<GroupRelayEndpointOptions> _configureEndpoint;
    private readonly bool _requireAuthorization;
    private readonly ILoggerProvider? _logs;
    private WebApplication? _app;
    private Uri? _relayUri;

    /// <param name="configureEndpoint">The endpoint's options (default: none changed).</param>
    /// <param name="requireAuthorization">Whether the endpoint is mapped with <c>.RequireAuthorization()</c>; without it the endpoint refuses anonymous upgrades itself.</param>
    /// <param name="logs">Receives the server's log lines (default: none are kept).</param>
    public KestrelRelayHarness(Action<GroupRelayEndpointOptions>? configureEndpoint = null, bool requireAuthorization = true, ILoggerProvider? logs = null)
    {
        _configureEndpoint = configureEndpoint ?? (_ => { });
        _requireAuthorization = requireAuthorization;
        _logs = logs;
    }

    public override Uri RelayUri => _relayUri ?? throw new InvalidOperationException("Not started.");

    public Uri HttpUri => new(RelayUri.ToString().Replace("ws://", "http://", StringComparison.Ordinal));

    public override IServiceProvider Services => _app?.Services ?? throw new InvalidOperationException("Not started.");

    public override bool RefusesAtHandshake => true;

    public WebApplication App => _app ?? throw new InvalidOperationException("Not started.");

    public override async Task StartAsync(Action<GroupRelayOptions> configure, CancellationToken cancellationToken = default)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        if (Environment.GetEnvironmentVariable("GROUPRELAY_TEST_LOG") == "1")
        {
            // For debugging a failing test: the server's log on the console (dotnet test --logger "console;verbosity=detailed").
            builder.Logging.AddSimpleConsole().SetMinimumLevel(LogLevel.Debug);
        }

        if (_logs is not null)
        {
            builder.Logging.AddProvider(_logs).SetMinimumLevel(LogLevel.Debug);
        }

        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Services.AddAuthentication(TestAuthHandler.SchemeName).AddScheme<AuthenticationSchemeOptions, TestAuthHandler>(TestAuthHandler.SchemeName, null);
        builder.Services.AddAuthorization();
        AddTestServices(builder.Services.AddGroupRelay(configure));
        _app = builder.Build();
        _app.UseWebSockets();
        _app.UseAuthentication();
        _app.UseAuthorization();
        IEndpointConventionBuilder endpoint = _app.MapGroupRelay("/relay", _configureEndpoint);
        if (_requireAuthorization)
        {
            endpoint.RequireAuthorization();
        }

        await _app.StartAsync(cancellationToken);
        string address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        _relayUri = new Uri(address.Replace("http://", "ws://", StringComparison.Ordinal) + "/relay");
    }

    public override Task StopAsync() => _app?.StopAsync() ?? Task.CompletedTask;

    public override async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await _app.StopAsync(timeout.Token);
            await _app.DisposeAsync();
        }
    }
}
