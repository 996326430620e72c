using System;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace GroupRelay.Internal;

/// <summary>
/// The one way to call Redis from a request path: "call Redis; on failure (or while disconnected) count a fallback,
/// log, and mark a resync due", so the caller answers from this node's local state and Redis is written again later.
/// </summary>
/// <remarks>
/// Thread-safety in one sentence: stateless apart from one interlocked counter of fallbacks since the last report, so
/// any number of callers use it at once. Calls take their state as an argument so a static lambda allocates no closure.
/// Only the failures that mean "Redis is unavailable" are caught; anything else (a bug) reaches the caller.
/// </remarks>
internal sealed class RedisGuard
{
    private readonly RedisConnection _connection;
    private readonly RedisRelayMetrics _metrics;
    private readonly ILogger _logger;
    private long _fallbacksSinceReport;

    public RedisGuard(RedisConnection connection, RedisRelayMetrics metrics, ILogger logger)
    {
        _connection = connection;
        _metrics = metrics;
        _logger = logger;
    }

    public bool IsConnected => _connection.IsConnected;

    /// <summary>
    /// A change to Redis. Ok is false when Redis failed or is disconnected; both count a fallback, because what this
    /// node changed meanwhile is only in its local state until the next resync.
    /// </summary>
    public ValueTask<(bool Ok, T Value)> TryAsync<TState, T>(string operation, TState state, Func<IConnectionMultiplexer, TState, Task<T>> call)
        => RunAsync(operation, state, call, countWhenDisconnected: true);

    /// <summary>
    /// A change to Redis that must not be taken for undone when it may have run: like
    /// <see cref="TryAsync{TState, T}(string, TState, Func{IConnectionMultiplexer, TState, Task{T}})"/>, but a failure says
    /// whether the command may have reached Redis (<see cref="RedisCallOutcome.Unknown"/>: a timeout, or the connection
    /// dropped after it was written) or certainly did not (<see cref="RedisCallOutcome.NotSent"/>).
    /// </summary>
    public async ValueTask<(RedisCallOutcome Outcome, T Value)> TryTrackedAsync<TState, T>(string operation, TState state, Func<IConnectionMultiplexer, TState, Task<T>> call)
    {
        if (!_connection.IsConnected)
        {
            Fallback(operation, null);
            return (RedisCallOutcome.NotSent, default!);
        }

        try
        {
            return (RedisCallOutcome.Ok, await call(_connection.Multiplexer, state).ConfigureAwait(false));
        }
        catch (Exception ex) when (IsFailure(ex))
        {
            Fallback(operation, ex);
            return (MayHaveReachedRedis(ex) ? RedisCallOutcome.Unknown : RedisCallOutcome.NotSent, default!);
        }
    }

    /// <summary>A change to Redis whose result is not needed.</summary>
    public async ValueTask<bool> TryAsync<TState>(string operation, TState state, Func<IConnectionMultiplexer, TState, Task> call)
        => (await RunAsync(operation, (call, state), static async (mux, s) =>
        {
            await s.call(mux, s.state).ConfigureAwait(false);
            return true;
        }, countWhenDisconnected: true).ConfigureAwait(false)).Ok;

    /// <summary>
    /// A call made only while connected: a question, or a change that the resync after a reconnection writes anyway.
    /// Ok is false when Redis failed (a fallback) or is disconnected (quietly: the answer comes from local state).
    /// </summary>
    public ValueTask<(bool Ok, T Value)> TryWhenConnectedAsync<TState, T>(string operation, TState state, Func<IConnectionMultiplexer, TState, Task<T>> call)
        => RunAsync(operation, state, call, countWhenDisconnected: false);

    /// <summary>Publishes without waiting for Redis (fire and forget); false (a fallback) when that was not possible.</summary>
    public bool TryPublish(RedisChannel channel, byte[] payload, string kind)
    {
        if (!_connection.IsConnected)
        {
            Fallback(kind, null);
            return false;
        }

        try
        {
            _connection.Multiplexer.GetSubscriber().Publish(channel, payload, CommandFlags.FireAndForget);
            _metrics.Published(kind);
            return true;
        }
        catch (Exception ex) when (IsFailure(ex))
        {
            Fallback(kind, ex);
            return false;
        }
    }

    /// <summary>Logs how many operations fell back since the last report, once per heartbeat while Redis is away.</summary>
    public void ReportDegraded()
    {
        long fallbacks = Interlocked.Exchange(ref _fallbacksSinceReport, 0);
        if (fallbacks > 0)
        {
            RedisRelayLog.Degraded(_logger, fallbacks);
        }
    }

    /// <summary>The failures that mean "Redis is unavailable" (as opposed to a bug).</summary>
    public static bool IsFailure(Exception exception)
        => exception is RedisException or TimeoutException or ObjectDisposedException or InvalidOperationException or System.IO.IOException;

    /// <summary>
    /// Only a connection failure of a command StackExchange.Redis had not begun to write is certain not to have run
    /// (nothing is buffered: the backlog fails fast); a timeout or any other failure may come after Redis ran it.
    /// </summary>
    private static bool MayHaveReachedRedis(Exception exception)
        => exception is not RedisConnectionException { CommandStatus: CommandStatus.WaitingToBeSent or CommandStatus.WaitingInBacklog };

    private async ValueTask<(bool Ok, T Value)> RunAsync<TState, T>(string operation, TState state, Func<IConnectionMultiplexer, TState, Task<T>> call, bool countWhenDisconnected)
    {
        if (!_connection.IsConnected)
        {
            if (countWhenDisconnected)
            {
                Fallback(operation, null);
            }

            return default;
        }

        try
        {
            return (true, await call(_connection.Multiplexer, state).ConfigureAwait(false));
        }
        catch (Exception ex) when (IsFailure(ex))
        {
            Fallback(operation, ex);
            return default;
        }
    }

    private void Fallback(string operation, Exception? exception)
    {
        _metrics.Fallback(operation);
        Interlocked.Increment(ref _fallbacksSinceReport);
        if (exception is not null)
        {
            _connection.RequestResync();
            RedisRelayLog.OperationFailed(_logger, operation, exception);
        }
        else if (!_connection.IsCrashed)
        {
            // A change made while disconnected is written by the resync after reconnecting.
            _connection.RequestResync();
        }
    }
}

/// <summary>What became of a change sent through <see cref="RedisGuard.TryTrackedAsync"/>.</summary>
internal enum RedisCallOutcome
{
    /// <summary>Redis ran it and answered.</summary>
    Ok,

    /// <summary>It never reached Redis (disconnected, or failed before it was written): it did not run and never will.</summary>
    NotSent,

    /// <summary>It may have run: the reply was lost (a timeout, or the connection dropped after the command was written).</summary>
    Unknown,
}
