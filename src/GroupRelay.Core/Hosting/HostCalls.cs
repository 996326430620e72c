using System;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;

namespace GroupRelay.Internal;

/// <summary>
/// Calls host code that has a timeout (<see cref="IMembershipSource"/> at connect, <see cref="IPresencePolicy"/> on
/// <c>watch</c>) so that the relay stops waiting at the timeout on its own, whatever that code does: it gets a token
/// cancelled at the timeout, but a call that ignores the token (or blocks its thread) is not waited for either; its
/// late result is discarded and logged.
/// </summary>
/// <remarks>
/// The call is started on <see cref="HostCallThreads"/>, never on the caller's thread: a host that blocks inside an
/// async signature (a synchronous database driver) then holds one of the relay's own threads, not the thread pool that
/// runs every connection's receive loop, writer and keep-alive. What runs after the host's first real <c>await</c> is
/// on the thread pool as usual.
/// </remarks>
internal sealed class HostCalls
{
    private readonly HostCallThreads _threads = new();
    private readonly ILogger _logger;

    public HostCalls(ILogger logger) => _logger = logger;

    /// <summary>
    /// Runs <paramref name="call"/> with a token cancelled at <paramref name="timeout"/> (or with
    /// <paramref name="cancellationToken"/>) and waits for it at most that long.
    /// </summary>
    /// <exception cref="HostCallTimeoutException">The call did not complete within <paramref name="timeout"/>.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public async Task<T> InvokeAsync<TState, T>(string callee, string userId, Func<TState, CancellationToken, ValueTask<T>> call, TState state, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        long started = Stopwatch.GetTimestamp();
        Task<T> task = _threads.Start(call, state, deadline.Token);
        try
        {
            return await task.WaitAsync(deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            // Whether the host gave up on its token or the relay stopped waiting, the timeout is what happened.
            throw new HostCallTimeoutException(callee, timeout);
        }
        finally
        {
            if (task.IsCompleted)
            {
                deadline.Dispose();
            }
            else
            {
                // The host still runs: its token stays usable until it returns, and what it returns is only logged.
                _ = task.ContinueWith(
                    (late, _) =>
                    {
                        deadline.Dispose();
                        TimeSpan elapsed = Stopwatch.GetElapsedTime(started);
                        if (late.IsCompletedSuccessfully)
                        {
                            GroupRelayLog.HostCallLate(_logger, callee, userId, elapsed, timeout, "a result");
                        }
                        else if (late.Exception?.InnerException is { } error and not OperationCanceledException)
                        {
                            GroupRelayLog.HostCallLateFailed(_logger, callee, userId, elapsed, timeout, error);
                        }
                    },
                    null,
                    CancellationToken.None,
                    TaskContinuationOptions.ExecuteSynchronously,
                    TaskScheduler.Default);
            }
        }
    }
}

/// <summary>Host code did not answer within its timeout (thrown by <see cref="HostCalls"/>, caught by the relay).</summary>
internal sealed class HostCallTimeoutException : TimeoutException
{
    public HostCallTimeoutException(string callee, TimeSpan timeout)
        : base($"The {callee} did not answer within {timeout}.")
    {
    }
}

/// <summary>
/// Threads of the relay's own that start host calls (each runs the host's code up to its first real <c>await</c>). A
/// call never waits for a thread: when none is idle, a new one starts; a thread idle for a while ends. So blocking
/// hosts cost threads of their own, and an async host, which returns at once, keeps one or two busy.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "SemaphoreSlim waits on a monitor and allocates a wait handle only when AvailableWaitHandle is read, which never happens; the threads live as long as the process may call the host, so it is never disposed under them.")]
internal sealed class HostCallThreads
{
    private static readonly TimeSpan IdleLifetime = TimeSpan.FromSeconds(30);
    private readonly ConcurrentQueue<(Action<object?> Run, object? State, ExecutionContext? Context)> _work = new();
    private readonly SemaphoreSlim _signal = new(0);
    private int _idle; // threads waiting for work that no call has claimed yet

    public Task<T> Start<TState, T>(Func<TState, CancellationToken, ValueTask<T>> call, TState state, CancellationToken cancellationToken)
    {
        var started = new TaskCompletionSource<Task<T>>(TaskCreationOptions.RunContinuationsAsynchronously);
        _work.Enqueue((
            _ =>
            {
                try
                {
                    started.SetResult(call(state, cancellationToken).AsTask());
                }
                catch (Exception ex)
                {
                    started.SetResult(Task.FromException<T>(ex));
                }
            },
            null,
            ExecutionContext.Capture()));
        Dispatch();
        return started.Task.Unwrap();
    }

    private void Dispatch()
    {
        while (true)
        {
            int idle = Volatile.Read(ref _idle);
            if (idle == 0)
            {
                // UnsafeStart: the thread outlives this call, so it must not keep this caller's context; each work
                // item runs in its own caller's context instead.
                new Thread(Loop) { IsBackground = true, Name = "GroupRelay host call" }.UnsafeStart();
                return;
            }

            if (Interlocked.CompareExchange(ref _idle, idle - 1, idle) == idle)
            {
                _signal.Release();
                return;
            }
        }
    }

    private void Loop()
    {
        while (true)
        {
            // One item per start or signal: each was enqueued before its thread was started or signalled.
            if (_work.TryDequeue(out var item))
            {
                if (item.Context is null)
                {
                    item.Run(item.State);
                }
                else
                {
                    ExecutionContext.Run(item.Context, static s => ((Action<object?>)s!)(null), item.Run);
                }
            }

            Interlocked.Increment(ref _idle);
            if (!_signal.Wait(IdleLifetime))
            {
                // Idle for long: end, unless every idle thread was claimed meanwhile (then a signal is on its way).
                int idle;
                while ((idle = Volatile.Read(ref _idle)) > 0)
                {
                    if (Interlocked.CompareExchange(ref _idle, idle - 1, idle) == idle)
                    {
                        return;
                    }
                }

                _signal.Wait();
            }
        }
    }
}
