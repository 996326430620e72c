using System;
using System.Diagnostics;
using System.Threading;
using System.Threading.Channels;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;

namespace GroupRelay.Internal;

/// <summary>
/// Hands every accepted message to the host's <see cref="IMessageObserver"/>s off the send path: a bounded queue that
/// one background loop drains, so a slow or failing observer never delays fan-out (see <see cref="IMessageObserver"/>).
/// </summary>
/// <remarks>
/// Thread-safety: <see cref="Accepted"/> is called concurrently by every publishing thread (the channel is
/// multi-writer); one loop reads.
/// </remarks>
internal sealed class MessageObservers : IDisposable
{
    private static readonly long DropLogInterval = Stopwatch.Frequency; // at most one "queue full" line a second

    private readonly IMessageObserver[] _observers;
    private readonly Channel<AcceptedMessage>? _queue;
    private readonly CancellationTokenSource _stopping = new();
    private readonly RelayMetrics _metrics;
    private readonly ILogger _logger;
    private readonly int _capacity;
    private readonly Task _loop = Task.CompletedTask;
    private long _droppedSinceLog;
    private long _lastDropLog;

    public MessageObservers(IMessageObserver[] observers, GroupRelayOptions options, RelayMetrics metrics, ILogger logger)
    {
        _observers = observers;
        _metrics = metrics;
        _logger = logger;
        _capacity = options.MessageObserverQueueCapacity;
        if (observers.Length > 0)
        {
            _queue = Channel.CreateBounded<AcceptedMessage>(new BoundedChannelOptions(_capacity)
            {
                SingleReader = true,
                FullMode = BoundedChannelFullMode.Wait, // TryWrite then fails when full, so a drop is seen and counted
            });
            _loop = Task.Run(RunAsync);
        }
    }

    /// <summary>False when the host registered no observer: the send path then copies nothing.</summary>
    public bool Any => _queue is not null;

    /// <summary>Queues an accepted message for the observers, or counts and logs it as not observed when the queue is full.</summary>
    public void Accepted(AcceptedMessage message)
    {
        if (_queue!.Writer.TryWrite(message))
        {
            return;
        }

        _metrics.Dropped(DropReasons.ObserverQueueFull);
        Interlocked.Increment(ref _droppedSinceLog);
        long now = Stopwatch.GetTimestamp();
        long last = Volatile.Read(ref _lastDropLog);
        if ((last == 0 || now - last >= DropLogInterval) && Interlocked.CompareExchange(ref _lastDropLog, now, last) == last)
        {
            GroupRelayLog.MessageObserverQueueFull(_logger, _capacity, Interlocked.Exchange(ref _droppedSinceLog, 0));
        }
    }

    /// <summary>
    /// Lets the loop observe what is queued, until <paramref name="cancellationToken"/> (the host's shutdown timeout);
    /// then cancels the observers' token. Messages accepted afterwards are counted as dropped.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_queue is null)
        {
            return;
        }

        _queue.Writer.TryComplete();
        try
        {
            await _loop.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            await _stopping.CancelAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Stops the loop where it is (the container disposes this after <see cref="StopAsync"/>).</summary>
    public void Dispose()
    {
        _queue?.Writer.TryComplete();
        _stopping.Cancel();
        _stopping.Dispose();
    }

    private async Task RunAsync()
    {
        ChannelReader<AcceptedMessage> reader = _queue!.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (reader.TryRead(out AcceptedMessage? message))
            {
                foreach (IMessageObserver observer in _observers)
                {
                    if (_stopping.IsCancellationRequested)
                    {
                        return;
                    }

                    try
                    {
                        await observer.OnMessageAcceptedAsync(message, _stopping.Token).ConfigureAwait(false);
                    }
                    catch (Exception ex)
                    {
                        _metrics.ObserverFailed();
                        GroupRelayLog.MessageObserverFailed(_logger, observer.GetType().Name, message.Seq, message.GroupId, ex);
                    }
                }
            }
        }
    }
}
