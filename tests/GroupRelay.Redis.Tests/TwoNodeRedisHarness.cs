using System;
using System.Threading;
using System.Threading.Tasks;
using GroupRelay.Specification.Tests;

namespace GroupRelay.Redis.Tests;

/// <summary>
/// The specification suite's server as two relay nodes (two Kestrel hosts, one real Redis). Each connect goes to the
/// other node than the one before (the suite builds every connect URI from <see cref="RelayUri"/>), so every test with
/// several clients runs across nodes. <see cref="RelayServerHarness.Services"/> is node A's.
/// </summary>
public sealed class TwoNodeRedisHarness : RelayServerHarness
{
    private int _connects;

    public RedisServer? Redis { get; private set; }

    public RedisRelayNodeHost NodeA { get; } = new();

    public RedisRelayNodeHost NodeB { get; } = new();

    /// <summary>Alternates between the nodes on every read: A, B, A, B, ...</summary>
    public override Uri RelayUri => (Interlocked.Increment(ref _connects) % 2 == 1 ? NodeA : NodeB).RelayUri;

    public override IServiceProvider Services => NodeA.Services;

    public override bool RefusesAtHandshake => true;

    public override async Task StartAsync(Action<GroupRelayOptions> configure, CancellationToken cancellationToken = default)
    {
        Redis = await RedisServer.StartAsync();
        await NodeA.StartAsync(Redis.Endpoint, Membership, configure, cancellationToken: cancellationToken);
        await NodeB.StartAsync(Redis.Endpoint, Membership, configure, cancellationToken: cancellationToken);
    }

    public override async Task StopAsync()
    {
        await NodeA.StopAsync();
        await NodeB.StopAsync();
    }

    public override async ValueTask DisposeAsync()
    {
        await NodeA.DisposeAsync();
        await NodeB.DisposeAsync();
        if (Redis is not null)
        {
            await Redis.DisposeAsync();
        }
    }
}
