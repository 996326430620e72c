using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Hosting;

namespace GroupRelay.Internal;

/// <summary>
/// Builds the relay when the host starts (so a missing membership source or a bad option fails start-up, not the
/// first connection) and closes every connection with 1001 when the host stops, before the server goes away.
/// </summary>
internal sealed class GroupRelayLifetimeService : IHostedService
{
    private readonly RelayRuntime _runtime;

    public GroupRelayLifetimeService(RelayRuntime runtime) => _runtime = runtime;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken)
        => _runtime.Handler.CloseAllAsync(RelayCloseCodes.GoingAway, "server shutting down", cancellationToken);
}
