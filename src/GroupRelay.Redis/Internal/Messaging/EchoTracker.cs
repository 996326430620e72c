using System;
using System.Collections.Concurrent;
using System.Threading;
using System.Threading.Tasks;

namespace GroupRelay.Internal;

/// <summary>
/// The sends of this node that wait for their own echo (so the echo reaches the sender before its ack), and the one
/// timer per node that releases those older than <c>EchoTimeout</c>: a lost echo costs no timer per message.
/// </summary>
/// <remarks>
/// Thread-safety in one sentence: the pending echoes are a concurrent map and each entry is released by whoever
/// removes it (the delivery, the sweeper or the stop), so a wait is released exactly once; the timer is created
/// once with an interlocked compare-exchange.
/// </remarks>
internal sealed class EchoTracker
{
    private readonly ConcurrentDictionary<long, PendingPublish> _pending = new();
    private readonly long _timeoutMilliseconds;
    private Timer? _sweeper;
    private volatile bool _stopped;

    public EchoTracker(TimeSpan echoTimeout) => _timeoutMilliseconds = (long)echoTimeout.TotalMilliseconds;

    /// <summary>False once stopped: a send then does not wait for its echo.</summary>
    public bool IsAccepting => !_stopped;

    /// <summary>Starts waiting for the echo of <paramref name="pending"/> (which must wait for one).</summary>
    public void Track(PendingPublish pending)
    {
        _pending[pending.PublishId] = pending;
        EnsureSweeper();

        // Stopped meanwhile: the final sweep may have missed this entry, so release it here.
        if (_stopped)
        {
            Complete(pending.PublishId);
        }
    }

    /// <summary>The echo of <paramref name="publishId"/> was delivered here (or will never be): its sender may go on.</summary>
    public void Complete(long publishId)
    {
        if (_pending.TryRemove(publishId, out PendingPublish? pending))
        {
            pending.EchoDone();
        }
    }

    /// <summary>Stops waiting for an echo without releasing its sender (the publish failed and faults the send).</summary>
    public void Forget(long publishId) => _pending.TryRemove(publishId, out _);

    /// <summary>Stops the timer and releases every wait: nothing will be echoed any more.</summary>
    public async Task StopAsync()
    {
        _stopped = true;
        if (Interlocked.Exchange(ref _sweeper, null) is Timer timer)
        {
            await timer.DisposeAsync().ConfigureAwait(false);
        }

        foreach (long publishId in _pending.Keys)
        {
            Complete(publishId);
        }
    }

    private void EnsureSweeper()
    {
        if (Volatile.Read(ref _sweeper) is not null || _stopped)
        {
            return;
        }

        long period = Math.Max(50, _timeoutMilliseconds / 4);
        var timer = new Timer(static o => ((EchoTracker)o!).Sweep(), this, Timeout.Infinite, Timeout.Infinite);
        if (Interlocked.CompareExchange(ref _sweeper, timer, null) is null)
        {
            timer.Change(period, period);
        }
        else
        {
            timer.Dispose();
        }
    }

    /// <summary>Releases the senders whose echo did not come back within EchoTimeout.</summary>
    private void Sweep()
    {
        long cutoff = Environment.TickCount64 - _timeoutMilliseconds;
        foreach (var entry in _pending)
        {
            if (entry.Value.EchoWaitStarted <= cutoff)
            {
                Complete(entry.Key);
            }
        }
    }
}
