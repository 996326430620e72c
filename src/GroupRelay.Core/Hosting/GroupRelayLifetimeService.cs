using System.Threading;
using System.Threading.Tasks;
using GroupRelay.Transports;
using Microsoft.Extensions.Hosting;

namespace GroupRelay.Internal;

/// <summary>
/// Builds the relay when the host starts (so a missing membership source or a bad option fails start-up, not the
/// first connection) and closes every connection with 1001 when the host stops, before the server goes away.
/// </summary>
/// <remarks>
/// The close runs in <see cref="StoppingAsync"/>, before any hosted service's <c>StopAsync</c>: a web server such as
/// Kestrel is itself a hosted service that may stop first, and it waits for open WebSockets until its shutdown
/// timeout, then aborts them, so a close in <see cref="StopAsync"/> alone would come too late for a graceful 1001.
/// </remarks>
internal sealed class GroupRelayLifetimeService : IHostedLifecycleService
{
    private readonly RelayConnectionHandler _handler;
    private readonly MessageObservers _observers;

    // Resolving the handler builds the whole relay, so a missing membership source fails the host's start.
    public GroupRelayLifetimeService(RelayConnectionHandler handler, MessageObservers observers)
    {
        _handler = handler;
        _observers = observers;
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => CloseAllAsync(cancellationToken);

    // Also here, for connections accepted while the others stopped; then the observers get what is left of the
    // shutdown timeout to observe the messages already accepted.
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await CloseAllAsync(cancellationToken).ConfigureAwait(false);
        await _observers.StopAsync(cancellationToken).ConfigureAwait(false);
    }

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private Task CloseAllAsync(CancellationToken cancellationToken)
        => _handler.CloseAllAsync(RelayCloseCodes.GoingAway, "server shutting down", cancellationToken);
}
