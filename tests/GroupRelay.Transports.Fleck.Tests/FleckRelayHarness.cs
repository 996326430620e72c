using System;
using System.Threading;
using System.Threading.Tasks;
using Fleck;
using GroupRelay.Specification.Tests;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace GroupRelay.Transports.Fleck.Tests;

/// <summary>
/// A real Fleck server on 127.0.0.1 (port 0: a free one), hosted with <c>AddFleckServer</c> in a generic host.
/// The <c>access_token</c> query value (or bearer header) is the user id; <c>!anonymous</c> or none is refused with 4003.
/// </summary>
public sealed class FleckRelayHarness : RelayServerHarness
{
    private IHost? _host;
    private Uri? _relayUri;
    private bool _started;

    public override Uri RelayUri => _relayUri ?? throw new InvalidOperationException("Not started.");

    public override IServiceProvider Services => _host?.Services ?? throw new InvalidOperationException("Not started.");

    public override bool RefusesAtHandshake => false;

    public FleckRelayServer Server => Services.GetRequiredService<FleckRelayServer>();

    public CapturingLoggerProvider Logs { get; } = new();

    /// <summary>Replaces the test authenticator (before <see cref="StartAsync"/>).</summary>
    public Func<IWebSocketConnectionInfo, string?> Authenticate { get; set; } = TestAuthenticate;

    /// <summary>Adjusts the transport's options (before <see cref="StartAsync"/>).</summary>
    public Action<FleckRelayServerOptions>? ConfigureTransport { get; set; }

    public static string? TestAuthenticate(IWebSocketConnectionInfo info)
        => FleckRelayAuthentication.GetAccessToken(info) is { } token && token != "!anonymous" ? token : null;

    public override async Task StartAsync(Action<GroupRelayOptions> configure, CancellationToken cancellationToken = default)
    {
        HostApplicationBuilder builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(Microsoft.Extensions.Logging.LogLevel.Debug);
        builder.Logging.AddProvider(Logs);
        builder.Services.AddGroupRelay(configure).AddMembershipSource(Membership).AddFleckServer("ws://127.0.0.1:0", o =>
        {
            o.Authenticate = info => Authenticate(info);
            ConfigureTransport?.Invoke(o);
        });
        _host = builder.Build();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        await _host.StartAsync(timeout.Token);
        _started = true;
        _relayUri = new Uri($"ws://127.0.0.1:{Server.Port}/relay");
    }

    public override async Task StopAsync()
    {
        if (_host is not null && _started)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await _host.StopAsync(timeout.Token).WaitAsync(TimeSpan.FromSeconds(15));
        }
    }

    public override async ValueTask DisposeAsync()
    {
        if (_host is not null)
        {
            await StopAsync();
            _host.Dispose();
            _host = null;
        }
    }
}
