using System;
using System.Collections.Concurrent;
using System.Threading;
using System.Threading.Tasks;

namespace GroupRelay.Internal;

/// <summary>
/// The run-time membership changes this node asked for and is waiting on: each has a request id (unique on this node;
/// the events carry the node id too), counts the acknowledgements of the nodes that applied it, and completes when as
/// many arrived as the change script found nodes holding the user.
/// </summary>
/// <remarks>
/// Thread-safety in one sentence: the waits are a concurrent map, and each wait guards its two counts with its own
/// lock, so an acknowledgement that arrives before the expected count is known is counted, not lost.
/// </remarks>
internal sealed class MembershipAcks
{
    private readonly ConcurrentDictionary<long, Wait> _waits = new();
    private long _nextRequestId;

    /// <summary>Registers a wait before the change is published, so no acknowledgement can come too early.</summary>
    public Wait Register()
    {
        var wait = new Wait(Interlocked.Increment(ref _nextRequestId));
        _waits[wait.RequestId] = wait;
        return wait;
    }

    /// <summary>A node applied change <paramref name="requestId"/> of this node (unknown or finished ids are ignored).</summary>
    public void Acknowledge(long requestId)
    {
        if (_waits.TryGetValue(requestId, out Wait? wait))
        {
            wait.Acknowledged();
        }
    }

    public void Remove(Wait wait) => _waits.TryRemove(wait.RequestId, out _);

    /// <summary>One change's acknowledgements.</summary>
    internal sealed class Wait(long requestId)
    {
        private readonly object _lock = new();
        private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _acks;
        private int _expected = -1;

        public long RequestId { get; } = requestId;

        public int Acks
        {
            get
            {
                lock (_lock)
                {
                    return _acks;
                }
            }
        }

        public void Acknowledged()
        {
            lock (_lock)
            {
                _acks++;
                CompleteIfDone();
            }
        }

        /// <summary>Waits until <paramref name="expected"/> acknowledgements arrived; false when <paramref name="timeout"/> passed first.</summary>
        public async Task<bool> WaitForAsync(int expected, TimeSpan timeout, CancellationToken cancellationToken)
        {
            lock (_lock)
            {
                _expected = expected;
                CompleteIfDone();
            }

            try
            {
                await _done.Task.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
                return true;
            }
            catch (TimeoutException)
            {
                return false;
            }
        }

        private void CompleteIfDone()
        {
            if (_expected >= 0 && _acks >= _expected)
            {
                _done.TrySetResult();
            }
        }
    }
}
