using System;
using System.Threading;
using System.Threading.Tasks;

namespace GroupRelay.Internal;

/// <summary>
/// A shared/exclusive gate: this node's writes to Redis hold it shared (any number at once), a resync holds it alone,
/// so the resync sees a local state whose every change is already in Redis (or not started yet).
/// </summary>
/// <remarks>
/// <para>
/// Thread-safety in one sentence: one lock guards the holder count and two completion signals (the exclusive holder
/// waits for "last shared holder left", shared entrants wait for "exclusive holder left"), so every wait is a task
/// completed exactly once by the leaving side and nothing polls.
/// </para>
/// <para>
/// An exclusive request takes the gate at once and keeps new shared entrants out while it waits for the current ones
/// to leave (writer preference: a resync is rare and must not starve). Exclusive holders queue behind each other.
/// Shared entry costs one uncontended lock when no exclusive holder is present.
/// </para>
/// </remarks>
internal sealed class SharedExclusiveGate
{
    private readonly object _lock = new();
    private int _shared;

    // Set while an exclusive holder has the gate (or waits for it to drain); completed when it leaves.
    private TaskCompletionSource? _exclusiveLeft;

    // Set while the exclusive holder waits for shared holders; completed by the last one to leave.
    private TaskCompletionSource? _drained;

    /// <summary>Number of shared holders (for tests and diagnostics).</summary>
    public int SharedHolders
    {
        get
        {
            lock (_lock)
            {
                return _shared;
            }
        }
    }

    /// <summary>Enters shared; waits while an exclusive holder has (or waits for) the gate.</summary>
    public ValueTask<SharedLease> EnterSharedAsync(CancellationToken cancellationToken = default)
    {
        Task wait;
        lock (_lock)
        {
            if (_exclusiveLeft is null)
            {
                _shared++;
                return new ValueTask<SharedLease>(new SharedLease(this));
            }

            wait = _exclusiveLeft.Task;
        }

        return EnterSharedSlowAsync(wait, cancellationToken);
    }

    /// <summary>Enters exclusive: keeps new shared entrants out, then waits until the current ones have left.</summary>
    public async Task<ExclusiveLease> EnterExclusiveAsync(CancellationToken cancellationToken = default)
    {
        Task? drained;
        while (true)
        {
            Task wait;
            lock (_lock)
            {
                if (_exclusiveLeft is null)
                {
                    _exclusiveLeft = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    drained = _shared == 0 ? null : (_drained = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
                    break;
                }

                wait = _exclusiveLeft.Task;
            }

            await wait.WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        if (drained is not null)
        {
            try
            {
                await drained.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                ExitExclusive();
                throw;
            }
        }

        return new ExclusiveLease(this);
    }

    private async ValueTask<SharedLease> EnterSharedSlowAsync(Task wait, CancellationToken cancellationToken)
    {
        while (true)
        {
            await wait.WaitAsync(cancellationToken).ConfigureAwait(false);
            lock (_lock)
            {
                if (_exclusiveLeft is null)
                {
                    _shared++;
                    return new SharedLease(this);
                }

                // Another exclusive holder got in first: wait for it too.
                wait = _exclusiveLeft.Task;
            }
        }
    }

    private void ExitShared()
    {
        TaskCompletionSource? drained = null;
        lock (_lock)
        {
            if (--_shared == 0)
            {
                drained = _drained;
                _drained = null;
            }
        }

        drained?.TrySetResult();
    }

    private void ExitExclusive()
    {
        TaskCompletionSource? left;
        lock (_lock)
        {
            left = _exclusiveLeft;
            _exclusiveLeft = null;
            _drained = null;
        }

        left?.TrySetResult();
    }

    /// <summary>Leaves the shared side when disposed.</summary>
    public readonly struct SharedLease : IDisposable
    {
        private readonly SharedExclusiveGate? _gate;

        internal SharedLease(SharedExclusiveGate gate) => _gate = gate;

        public void Dispose() => _gate?.ExitShared();
    }

    /// <summary>Leaves the exclusive side when disposed.</summary>
    public readonly struct ExclusiveLease : IDisposable
    {
        private readonly SharedExclusiveGate? _gate;

        internal ExclusiveLease(SharedExclusiveGate gate) => _gate = gate;

        public void Dispose() => _gate?.ExitExclusive();
    }
}
