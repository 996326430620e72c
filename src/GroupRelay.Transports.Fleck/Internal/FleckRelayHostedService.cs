using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Hosting;

namespace GroupRelay.Transports.Fleck.Internal;

/// <summary>
/// Starts the <see cref="FleckRelayServer"/> with the host and stops it (clients closed with 1001, then the listener)
/// when the host stops. Registered after GroupRelay's own hosted service, so it stops first.
/// </summary>
internal sealed class FleckRelayHostedService : IHostedService
{
    private readonly FleckRelayServer _server;

    public FleckRelayHostedService(FleckRelayServer server) => _server = server;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _server.Start();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => _server.StopAsync(cancellationToken);
}
