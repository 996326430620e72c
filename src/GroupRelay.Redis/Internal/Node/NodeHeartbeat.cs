using System;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace GroupRelay.Internal;

/// <summary>
/// One heartbeat of this node: refreshes its liveness entry (Redis's clock), runs the resync when one is due, and
/// removes the nodes whose entries are older than <c>NodeTimeout</c>, announcing the users and memberships they ended.
/// </summary>
/// <remarks>Thread-safety in one sentence: stateless; the hosted service calls it from one loop, one beat at a time.</remarks>
internal sealed class NodeHeartbeat
{
    private readonly RedisConnection _connection;
    private readonly NodeResync _resync;
    private readonly RedisNodeEntries _entries;
    private readonly RedisAnnouncer _announcer;
    private readonly RedisRelayMetrics _metrics;
    private readonly ILogger _logger;

    public NodeHeartbeat(RedisConnection connection, NodeResync resync, RedisNodeEntries entries, RedisAnnouncer announcer, RedisRelayMetrics metrics, ILogger logger)
    {
        _connection = connection;
        _resync = resync;
        _entries = entries;
        _announcer = announcer;
        _metrics = metrics;
        _logger = logger;
    }

    public async Task BeatAsync(CancellationToken stopping)
    {
        string nodeId = _connection.NodeId;
        RedisResult[] beat = (RedisResult[])(await _connection.Multiplexer.GetDatabase().ScriptEvaluateAsync(
            RedisScripts.Heartbeat,
            new[] { _connection.Keys.Nodes },
            new RedisValue[] { nodeId, (long)_connection.Options.NodeTimeout.TotalMilliseconds }).ConfigureAwait(false))!;
        if ((long)beat[0] == 1)
        {
            _connection.RequestResync();
        }

        if (_connection.ResyncDue)
        {
            (int users, int groups) = await _resync.RunAsync(stopping).ConfigureAwait(false);
            RedisRelayLog.Resynchronised(_logger, nodeId, users, groups);
        }

        for (int i = 1; i < beat.Length; i++)
        {
            string dead = (string)beat[i]!;
            if (dead != nodeId)
            {
                NodeRemoval removal = await _entries.RemoveNodeAsync(dead, "reap").ConfigureAwait(false);
                _metrics.Reaped();
                RedisRelayLog.NodeReaped(_logger, dead, nodeId, removal.Offline.Count);
                _announcer.AnnounceGone(removal);
            }
        }
    }

    /// <summary>A graceful stop: removes what is left of this node (its connections have closed by now).</summary>
    public async Task LeaveAsync()
    {
        if (!_connection.IsConnected)
        {
            return;
        }

        try
        {
            await _entries.RemoveNodeAsync(_connection.NodeId, "reap").ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            RedisRelayLog.OperationFailed(_logger, "stop", ex);
        }
    }
}
