using System;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using GroupRelay.Redis;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace GroupRelay.Internal;

/// <summary>
/// This node's connection to Redis and what it knows about it: connected, lost or restored (one log line and one
/// metric per change), crashed (the test hook), and whether what Redis holds of this node may be stale and must be
/// written again (a resync is due).
/// </summary>
/// <remarks>
/// Thread-safety in one sentence: the state is a single interlocked int and two volatile flags, changed from
/// StackExchange.Redis's event threads, the heartbeat and any caller, and the multiplexer is set once before use.
/// </remarks>
internal sealed class RedisConnection : IDisposable
{
    private readonly RedisRelayMetrics _metrics;
    private readonly ILogger _logger;
    private IConnectionMultiplexer? _mux;
    private bool _ownsMux;
    private int _connectedState = -1;
    private volatile bool _resyncDue = true;
    private volatile bool _crashed;

    public RedisConnection(RedisRelayOptions options, RedisKeys keys, RedisRelayMetrics metrics, ILogger logger)
    {
        Options = options;
        Keys = keys;
        _metrics = metrics;
        _logger = logger;
        metrics.ObserveConnected(() => IsConnected);
    }

    public RedisRelayOptions Options { get; }

    public RedisKeys Keys { get; }

    /// <summary>A new random id at every start: a restarted node never takes over the entries of its former self.</summary>
    public string NodeId => Keys.NodeId;

    public bool IsConnected => !_crashed && _mux is { IsConnected: true };

    /// <summary>True once the test hook crashed the node: nothing is written to Redis any more.</summary>
    public bool IsCrashed => _crashed;

    /// <summary>The multiplexer; only valid after <see cref="ConnectAsync"/>.</summary>
    public IConnectionMultiplexer Multiplexer => _mux ?? throw new InvalidOperationException("The Redis connection is not open.");

    /// <summary>Whether this node's entries in Redis must be written again (set at start, on reconnection, after a failed write).</summary>
    public bool ResyncDue => _resyncDue;

    public void RequestResync() => _resyncDue = true;

    public void ResyncStarted() => _resyncDue = false;

    public async Task ConnectAsync()
    {
        RedisRelayLog.Starting(_logger, NodeId, Options.Prefix, Options.NodeTimeout);
        using var log = new StringWriter();
        if (Options.ConnectionFactory is not null)
        {
            _mux = await Options.ConnectionFactory(log).ConfigureAwait(false);
        }
        else
        {
            ConfigurationOptions configuration = (Options.Configuration ?? ConfigurationOptions.Parse("127.0.0.1:6379")).Clone();
            configuration.AbortOnConnectFail = false;
            configuration.BacklogPolicy = BacklogPolicy.FailFast;
            configuration.AsyncTimeout = Options.CommandTimeoutMilliseconds;
            configuration.SyncTimeout = Options.CommandTimeoutMilliseconds;
            configuration.ConnectTimeout = Math.Max(Options.CommandTimeoutMilliseconds, 1000);
            configuration.ReconnectRetryPolicy = new ExponentialRetry(250, 2000);
            configuration.ChannelPrefix = default;
            _mux = await ConnectionMultiplexer.ConnectAsync(configuration, log).ConfigureAwait(false);
            _ownsMux = true;
        }

        _mux.ConnectionFailed += OnConnectionFailed;
        _mux.ConnectionRestored += OnConnectionRestored;
        ReportState(_mux.IsConnected, failure: null, exception: null);
    }

    /// <summary>Called on every heartbeat: a reconnection that raised no event is noticed here.</summary>
    public void Refresh()
    {
        if (IsConnected)
        {
            ReportState(true, null, null);
        }
    }

    /// <summary>For tests: from now on the node behaves as dead (no writes, no heartbeats).</summary>
    public void MarkCrashed() => _crashed = true;

    /// <summary>Closes the connection (when the relay created it) without waiting for commands in flight.</summary>
    public async Task CloseAsync()
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

    public void Dispose()
    {
        if (_ownsMux)
        {
            _mux?.Dispose();
        }
    }

    private void OnConnectionFailed(object? sender, ConnectionFailedEventArgs e) => ReportState(false, e.FailureType.ToString(), e.Exception);

    /// <summary>
    /// Raised when the subscription connection is back after it dropped (Redis restarted, a network blip, or the
    /// connection was killed): what the group channels carried meanwhile was lost, and the receiver catches it up from
    /// the streams. Raised on StackExchange.Redis's event thread; handlers must not block.
    /// </summary>
    public event Action? SubscriptionRestored;

    private void OnConnectionRestored(object? sender, ConnectionFailedEventArgs e)
    {
        if (e.ConnectionType == ConnectionType.Subscription)
        {
            SubscriptionRestored?.Invoke();
        }

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
            _resyncDue = true;
            if (previous == 0)
            {
                RedisRelayLog.ConnectionRestored(_logger, NodeId);
                _metrics.StateChanged("restored");
            }
        }
        else
        {
            RedisRelayLog.ConnectionLost(_logger, NodeId, failure ?? "not connected", exception);
            _metrics.StateChanged("lost");
        }
    }
}
