using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Hosting;

namespace GroupRelay.Internal;

/// <summary>Starts the node (connect, first heartbeat, resync) before the server takes connections, and stops it cleanly.</summary>
internal sealed class RedisRelayHostedService : IHostedService
{
    private readonly RedisRelayNode _node;

    public RedisRelayHostedService(RedisRelayNode node) => _node = node;

    public Task StartAsync(CancellationToken cancellationToken) => _node.StartAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => _node.StopAsync(cancellationToken);
}
