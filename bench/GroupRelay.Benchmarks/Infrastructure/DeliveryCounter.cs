using System;
using System.Threading;
using System.Threading.Tasks;
using System.Threading.Tasks.Sources;

namespace GroupRelay.Benchmarks.Infrastructure;

/// <summary>
/// Completes an allocation-free awaitable when the armed number of messages has reached the sockets, so a
/// benchmark operation ends when every delivery has gone through its connection's writer loop.
/// </summary>
internal sealed class DeliveryCounter : IValueTaskSource
{
    private ManualResetValueTaskSourceCore<bool> _core;
    private long _remaining;
    private long _total;

    public DeliveryCounter() => _core.RunContinuationsAsynchronously = false;

    /// <summary>Total messages the sockets were given since creation.</summary>
    public long Total => Interlocked.Read(ref _total);

    public void Arm(long expected)
    {
        _core.Reset();
        Volatile.Write(ref _remaining, expected);
    }

    public void Delivered(int messages)
    {
        Interlocked.Add(ref _total, messages);
        if (Interlocked.Add(ref _remaining, -messages) == 0)
        {
            _core.SetResult(true);
        }
    }

    public ValueTask WaitAsync() => new(this, _core.Version);

    void IValueTaskSource.GetResult(short token) => _core.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
        => _core.OnCompleted(continuation, state, token, flags);
}
