using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics.Metrics;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using GroupRelay.Redis;
using GroupRelay.ScaleOut;
using GroupRelay.Transports;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace GroupRelay.Internal;

/// <summary>
/// One relay node's side of the Redis scale-out: the connection, this node's local state (connections, group index),
/// its mirror in Redis, the group subscriptions, the heartbeat, the reaper of dead nodes and the resync after an outage.
/// <see cref="RedisPresenceRegistry"/>, <see cref="RedisGroupDirectory"/> and <see cref="RedisRelayBackplane"/> are thin
/// faces of it. Split by concern: this file (lifecycle), <c>.Local.cs</c> (state), <c>.Messaging.cs</c> (pub/sub).
/// </summary>
/// <remarks>
/// Redis is never on the path of a local guarantee: every operation first changes the local state, then Redis; when
/// Redis is unavailable the operation answers from the local state (counted in <c>grouprelay.redis.fallbacks</c>) and
/// the node writes its whole state again once Redis is back (<see cref="ResyncAsync"/>).
/// </remarks>
internal sealed partial class RedisRelayNode : IDisposable
{
    private readonly RedisRelayOptions _options;
    private readonly IServiceProvider _services;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private IConnectionMultiplexer? _mux;
    private bool _ownsMux;
    private Task? _loop;
    private int _connectedState = -1;
    private volatile bool _needsResync = true;
    private volatile bool _crashed;
    private RelayLocalDelivery? _local;
    private long _fallbacksSinceReport;

    // Writes to Redis hold this gate shared; a resync holds it alone, so it sees a local state whose every change is in Redis.
    private readonly SemaphoreSlim _resyncGate = new(1, 1);
    private int _sharedHolders;

    public RedisRelayNode(IOptions<RedisRelayOptions> options, IServiceProvider services)
    {
        _options = options.Value;
        _services = services;
        _logger = services.GetService<ILoggerFactory>()?.CreateLogger("GroupRelay.Redis") ?? NullLogger.Instance;
        NodeId = Guid.NewGuid().ToString("N");
        _nodeIdUtf8 = System.Text.Encoding.UTF8.GetBytes(NodeId);
        Keys = new RedisKeys(_options.Prefix, NodeId);
        Metrics = new RedisRelayMetrics(services.GetService<IMeterFactory>(), () => IsConnected);
        for (int i = 0; i < _stripes.Length; i++)
        {
            _stripes[i] = new SemaphoreSlim(1, 1);
        }
    }

    /// <summary>A new random id at every start: a restarted node never takes over the entries of its former self.</summary>
    public string NodeId { get; }

    // NodeId as the payloads carry it: a node recognises its own messages without decoding a string per message.
    private readonly byte[] _nodeIdUtf8;

    public RedisKeys Keys { get; }

    public RedisRelayMetrics Metrics { get; }

    public RedisRelayOptions Options => _options;

    public bool IsConnected => !_crashed && _mux is { IsConnected: true };

    private IDatabase Db => _mux!.GetDatabase();

    private RelayLocalDelivery Local => _local ?? throw new InvalidOperationException("The Redis backplane is not attached to a relay.");

    public void Attach(RelayLocalDelivery local) => _local = local;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        RedisRelayLog.Starting(_logger, NodeId, _options.Prefix, _options.NodeTimeout);
        using var log = new StringWriter();
        if (_options.ConnectionFactory is not null)
        {
            _mux = await _options.ConnectionFactory(log).ConfigureAwait(false);
        }
        else
        {
            ConfigurationOptions configuration = (_options.Configuration ?? ConfigurationOptions.Parse("127.0.0.1:6379")).Clone();
            configuration.AbortOnConnectFail = false;
            configuration.BacklogPolicy = BacklogPolicy.FailFast;
            configuration.AsyncTimeout = _options.CommandTimeoutMilliseconds;
            configuration.SyncTimeout = _options.CommandTimeoutMilliseconds;
            configuration.ConnectTimeout = Math.Max(_options.CommandTimeoutMilliseconds, 1000);
            configuration.ReconnectRetryPolicy = new ExponentialRetry(250, 2000);
            configuration.ChannelPrefix = default;
            _mux = await ConnectionMultiplexer.ConnectAsync(configuration, log).ConfigureAwait(false);
            _ownsMux = true;
        }

        _mux.ConnectionFailed += OnConnectionFailed;
        _mux.ConnectionRestored += OnConnectionRestored;
        ReportState(_mux.IsConnected, failure: null, exception: null);
        if (IsConnected)
        {
            await RunBeatAsync().ConfigureAwait(false);
        }

        _loop = Task.Run(LoopAsync, CancellationToken.None);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }

        // This service stops before the relay's own (reverse registration order): close the connections first, so
        // their users leave Redis through the normal path, then remove what is left of this node.
        try
        {
            await _services.GetRequiredService<RelayConnectionHandler>().CloseAllAsync(RelayCloseCodes.GoingAway, "server shutting down", cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            RedisRelayLog.LoopFailed(_logger, NodeId, ex);
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
        {
            await _loop.ConfigureAwait(false);
        }

        if (IsConnected)
        {
            try
            {
                await RemoveNodeAsync(NodeId, "reap").ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                RedisRelayLog.OperationFailed(_logger, "stop", ex);
            }
        }

        RedisRelayLog.Stopped(_logger, NodeId);
        await DisposeConnectionAsync().ConfigureAwait(false);
        await StopEchoSweeperAsync().ConfigureAwait(false);
    }

    /// <summary>For tests: the node dies without cleaning up (no more heartbeats, no removal, connection dropped).</summary>
    internal async Task CrashAsync()
    {
        _crashed = true;
        await _stopping.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
        {
            await _loop.ConfigureAwait(false);
        }

        await DisposeConnectionAsync().ConfigureAwait(false);
        await StopEchoSweeperAsync().ConfigureAwait(false);
    }

    private async ValueTask StopEchoSweeperAsync()
    {
        if (Interlocked.Exchange(ref _echoSweeper, null) is Timer timer)
        {
            await timer.DisposeAsync().ConfigureAwait(false);
        }

        SweepAllEchoes();
    }

    public void Dispose()
    {
        _stopping.Cancel();
        if (_ownsMux)
        {
            _mux?.Dispose();
        }

        Metrics.Dispose();
    }

    private async Task DisposeConnectionAsync()
    {
        IConnectionMultiplexer? mux = _mux;
        if (mux is null)
        {
            return;
        }

        mux.ConnectionFailed -= OnConnectionFailed;
        mux.ConnectionRestored -= OnConnectionRestored;
        if (_ownsMux)
        {
            await mux.CloseAsync(allowCommandsToComplete: false).ConfigureAwait(false);
            mux.Dispose();
        }
    }

    private void OnConnectionFailed(object? sender, ConnectionFailedEventArgs e) => ReportState(false, e.FailureType.ToString(), e.Exception);

    private void OnConnectionRestored(object? sender, ConnectionFailedEventArgs e)
    {
        if (_mux is { IsConnected: true })
        {
            ReportState(true, null, null);
        }
    }

    private void ReportState(bool connected, string? failure, Exception? exception)
    {
        int previous = Interlocked.Exchange(ref _connectedState, connected ? 1 : 0);
        if (previous == (connected ? 1 : 0))
        {
            return;
        }

        if (connected)
        {
            _needsResync = true;
            if (previous == 0)
            {
                RedisRelayLog.ConnectionRestored(_logger, NodeId);
                Metrics.StateChanged("restored");
            }
        }
        else
        {
            RedisRelayLog.ConnectionLost(_logger, NodeId, failure ?? "not connected", exception);
            Metrics.StateChanged("lost");
        }
    }

    private async Task LoopAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(_options.HeartbeatInterval, _stopping.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            try
            {
                long fallbacks = Interlocked.Exchange(ref _fallbacksSinceReport, 0);
                if (fallbacks > 0)
                {
                    RedisRelayLog.Degraded(_logger, fallbacks);
                }

                if (IsConnected)
                {
                    ReportState(true, null, null);
                    await RunBeatAsync().ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                RedisRelayLog.LoopFailed(_logger, NodeId, ex);
            }
        }
    }

    /// <summary>One heartbeat: refresh liveness, resync when needed, remove dead nodes.</summary>
    private async Task RunBeatAsync()
    {
        RedisResult[] beat = (RedisResult[])(await Db.ScriptEvaluateAsync(RedisScripts.Heartbeat, new[] { Keys.Nodes }, new RedisValue[] { NodeId, (long)_options.NodeTimeout.TotalMilliseconds }).ConfigureAwait(false))!;
        if ((long)beat[0] == 1)
        {
            _needsResync = true;
        }

        if (_needsResync)
        {
            await ResyncAsync().ConfigureAwait(false);
        }

        for (int i = 1; i < beat.Length; i++)
        {
            string dead = (string)beat[i]!;
            if (dead != NodeId)
            {
                (List<string> offline, List<(string Group, string User)> gone) = await RemoveNodeAsync(dead, "reap").ConfigureAwait(false);
                Metrics.Reaped();
                RedisRelayLog.NodeReaped(_logger, dead, NodeId, offline.Count);
                AnnounceGone(offline, gone);
            }
        }
    }

    private async Task<(List<string> Offline, List<(string Group, string User)> Gone)> RemoveNodeAsync(string nodeId, string mode)
    {
        RedisResult result = await Db.ScriptEvaluateAsync(RedisScripts.RemoveNode, new[] { Keys.Nodes, Keys.Online, Keys.Status }, new RedisValue[] { Keys.Prefix, nodeId, mode }).ConfigureAwait(false);
        var parts = (RedisResult[])result!;
        var offline = ((RedisResult[])parts[0]!).Select(r => (string)r!).ToList();
        var gone = new List<(string, string)>();
        foreach (RedisResult pair in (RedisResult[])parts[1]!)
        {
            string text = (string)pair!;
            int space = text.IndexOf(' ', StringComparison.Ordinal);
            gone.Add((RedisKeys.Decode(text[..space]), text[(space + 1)..]));
        }

        return (offline, gone);
    }

    /// <summary>Tells everyone about users that a removal took offline and memberships it ended.</summary>
    private void AnnounceGone(List<string> offline, List<(string Group, string User)> gone)
    {
        if (Local.Options.SendJoinLeaveEvents)
        {
            foreach ((string group, string user) in gone)
            {
                PublishMemberEvent(group, user, joined: false);
            }
        }

        foreach (string user in offline)
        {
            PublishPresence(user, online: false, status: null);
        }
    }

    /// <summary>
    /// Writes this node's whole state to Redis again: after the first heartbeat, after an outage, after Redis lost its
    /// data, or after other nodes took this one for dead. Also restores subscriptions and raises the seq counters to at
    /// least what this node delivered, so seq keeps increasing on its connections.
    /// </summary>
    private async Task ResyncAsync()
    {
        await _resyncGate.WaitAsync(_stopping.Token).ConfigureAwait(false);
        try
        {
            while (Volatile.Read(ref _sharedHolders) > 0)
            {
                await Task.Delay(2, _stopping.Token).ConfigureAwait(false);
            }

            _needsResync = false;
            (List<string> offline, List<(string Group, string User)> gone) = await RemoveNodeAsync(NodeId, "self").ConfigureAwait(false);
            IDatabase db = Db;
            var writes = new List<Task>();
            KeyValuePair<string, RelayConnection[]>[] users = _connections.ToArray();
            foreach ((string user, RelayConnection[] connections) in users)
            {
                writes.Add(db.ScriptEvaluateAsync(RedisScripts.AddConnection, new[] { Keys.NodeUsers, Keys.Online, Keys.Status }, new RedisValue[] { user, connections.Length }));
                if (_localStatus.TryGetValue(user, out string? status) && status is not null)
                {
                    writes.Add(db.HashSetAsync(Keys.Status, user, status));
                }
            }

            KeyValuePair<string, string[]>[] groups = _groupMembers.ToArray();
            foreach ((string group, string[] members) in groups)
            {
                foreach (string user in members)
                {
                    writes.Add(db.ScriptEvaluateAsync(RedisScripts.AddMember, new[] { Keys.NodeMemberships, Keys.Members(group) }, new RedisValue[] { RedisKeys.Pair(group, user), user }));
                }
            }

            foreach ((string group, GroupState state) in _groups)
            {
                long last = Interlocked.Read(ref state.LastSeq);
                if (last > 0)
                {
                    writes.Add(db.ScriptEvaluateAsync(RedisScripts.RaiseSeq, new[] { Keys.Seq(group) }, new RedisValue[] { last }));
                }

                bool wanted = _groupMembers.ContainsKey(group);
                if (wanted && state.Subscription is null)
                {
                    writes.Add(SubscribeGroupAsync(group, state, resubscribe: true));
                }
                else if (!wanted && state.Subscription is not null)
                {
                    writes.Add(UnsubscribeGroupAsync(state));
                }
            }

            writes.Add(EnsureEventsSubscribedAsync());
            await Task.WhenAll(writes).ConfigureAwait(false);
            RedisRelayLog.Resynchronised(_logger, NodeId, users.Length, groups.Length);

            // Users that left this node while Redis was away: the others have not heard yet.
            AnnounceGone(
                offline.Where(u => !_connections.ContainsKey(u)).ToList(),
                gone.Where(p => !IsLocalMember(p.Group, p.User)).ToList());
        }
        catch
        {
            _needsResync = true;
            throw;
        }
        finally
        {
            _resyncGate.Release();
        }
    }

    /// <summary>Enters the shared side of the resync gate for one write to Redis.</summary>
    private async ValueTask<SharedWrite> EnterWriteAsync()
    {
        await _resyncGate.WaitAsync().ConfigureAwait(false);
        Interlocked.Increment(ref _sharedHolders);
        _resyncGate.Release();
        return new SharedWrite(this);
    }

    private void Fallback(string operation, Exception? exception)
    {
        Metrics.Fallback(operation);
        Interlocked.Increment(ref _fallbacksSinceReport);
        if (exception is not null)
        {
            _needsResync = true;
            RedisRelayLog.OperationFailed(_logger, operation, exception);
        }
        else if (!_crashed)
        {
            // A change made while disconnected is written by the resync after reconnecting.
            _needsResync = true;
        }
    }

    private readonly struct SharedWrite : IDisposable
    {
        private readonly RedisRelayNode _node;

        public SharedWrite(RedisRelayNode node) => _node = node;

        public void Dispose() => Interlocked.Decrement(ref _node._sharedHolders);
    }
}
