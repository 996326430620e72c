using System;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace GroupRelay.Internal;

/// <summary>
/// The node's life: connects to Redis and runs the first heartbeat (with its resync) before the server takes
/// connections, beats every <c>HeartbeatInterval</c> (each beat also refreshes the expiry of some of its groups' stream
/// keys), sweeps the state of dead groups (<see cref="GroupUpkeep"/>), and on stop removes this node's entries and
/// closes the connection.
/// </summary>
/// <remarks>
/// <para>
/// Thread-safety in one sentence: one background loop runs the heartbeats one at a time, and start, stop and the
/// crash hook are called by the host (or a test) one after the other.
/// </para>
/// <para>
/// It does not close the relay's connections at stop: <c>AddGroupRelay()</c>'s lifetime service does that in
/// <see cref="IHostedLifecycleService.StoppingAsync"/>, which the host runs before any hosted service's
/// <see cref="IHostedService.StopAsync"/>, so by now their users have left Redis through the normal path.
/// </para>
/// </remarks>
internal sealed class RedisRelayHostedService : IHostedService, IDisposable
{
    private readonly RedisConnection _connection;
    private readonly NodeHeartbeat _heartbeat;
    private readonly GroupMessageReceiver _receiver;
    private readonly GroupUpkeep _upkeep;
    private readonly RedisGuard _guard;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private Task? _loop;
    private Task? _receiving;
    private int _disposed;

    public RedisRelayHostedService(RedisConnection connection, NodeHeartbeat heartbeat, GroupMessageReceiver receiver, GroupUpkeep upkeep, RedisGuard guard, ILogger logger)
    {
        _connection = connection;
        _heartbeat = heartbeat;
        _receiver = receiver;
        _upkeep = upkeep;
        _guard = guard;
        _logger = logger;
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _receiving = _receiver.RunAsync(_stopping.Token);
        _upkeep.Start();
        await _connection.ConnectAsync().ConfigureAwait(false);
        if (_connection.IsConnected)
        {
            await _heartbeat.BeatAsync(_stopping.Token).ConfigureAwait(false);
        }

        _loop = Task.Run(LoopAsync, CancellationToken.None);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }

        await StopLoopsAsync().ConfigureAwait(false);
        await _heartbeat.LeaveAsync().ConfigureAwait(false);
        RedisRelayLog.Stopped(_logger, _connection.NodeId);
        await _connection.CloseAsync().ConfigureAwait(false);
        await _upkeep.StopAsync().ConfigureAwait(false);
    }

    /// <summary>For tests: the node dies without cleaning up (no more heartbeats, no removal, connection dropped).</summary>
    internal async Task CrashAsync()
    {
        _connection.MarkCrashed();
        await StopLoopsAsync().ConfigureAwait(false);
        await _connection.CloseAsync().ConfigureAwait(false);
        await _upkeep.StopAsync().ConfigureAwait(false);
    }

    // Registered as itself and as a hosted service (the same instance), so the container disposes it twice.
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        _stopping.Cancel();
        _stopping.Dispose();
    }

    private async Task StopLoopsAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
        {
            await _loop.ConfigureAwait(false);
        }

        if (_receiving is not null)
        {
            await _receiving.ConfigureAwait(false);
        }
    }

    private async Task LoopAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(_connection.Options.HeartbeatInterval, _stopping.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            try
            {
                _guard.ReportDegraded();
                if (_connection.IsConnected)
                {
                    _connection.Refresh();
                    await _heartbeat.BeatAsync(_stopping.Token).ConfigureAwait(false);
                    await _upkeep.RefreshAsync().ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                RedisRelayLog.LoopFailed(_logger, _connection.NodeId, ex);
            }
        }
    }
}
