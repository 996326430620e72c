using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using HdrHistogram;

namespace GroupRelay.LoadTest.Client;

/// <summary>
/// Where every client connection reports the <c>message</c> deliveries it receives: a count, and in latency mode the
/// end-to-end time from the message's intended send time (carried in its body) to its arrival.
/// </summary>
internal sealed class DeliverySink
{
    private readonly object _histogramGate = new();
    private LongHistogram _histogram = NewHistogram();
    private long _received;
    private long _connectionsLost;
    private readonly ConcurrentDictionary<string, long> _lostBy = new(StringComparer.Ordinal);
    private long _recordFrom = long.MaxValue;
    private TaskCompletionSource? _waiter;

    /// <summary>Whether receivers must parse each message's timestamp (latency) or only count (fan-out).</summary>
    public bool MeasureLatency { get; set; }

    public long Received => Interlocked.Read(ref _received);

    /// <summary>Connections the server closed (for GroupRelay, 4001 slow consumer) or that broke, since creation.</summary>
    public long ConnectionsLost => Interlocked.Read(ref _connectionsLost);

    /// <summary>A connection ended without the client closing it.</summary>
    /// <param name="reason">The close code the server sent ("4001"), or "broken" when the socket ended without one.</param>
    public void ConnectionLost(string reason)
    {
        Interlocked.Increment(ref _connectionsLost);
        _lostBy.AddOrUpdate(reason, 1, static (_, n) => n + 1);
    }

    /// <summary>Lost connections so far, by reason (see <see cref="ConnectionLost"/>).</summary>
    public Dictionary<string, long> LostByReason() => _lostBy.ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);

    /// <summary>The reason to report for a WebSocket that ended: its close code, or "broken" without a close frame.</summary>
    public static string Reason(System.Net.WebSockets.WebSocket socket) => socket.CloseStatus is { } code ? ((int)code).ToString(System.Globalization.CultureInfo.InvariantCulture) : "broken";

    /// <summary>Latencies are recorded only for messages meant to be sent at or after this timestamp (skips the warm-up).</summary>
    public void RecordFrom(long stopwatchTimestamp) => Volatile.Write(ref _recordFrom, stopwatchTimestamp);

    public void Reset()
    {
        Interlocked.Exchange(ref _received, 0);
        Volatile.Write(ref _recordFrom, long.MaxValue);
        lock (_histogramGate)
        {
            _histogram = NewHistogram();
        }
    }

    public void Delivered(int messages)
    {
        Interlocked.Add(ref _received, messages);
        if (Volatile.Read(ref _waiter) is not null)
        {
            Interlocked.Exchange(ref _waiter, null)?.TrySetResult();
        }
    }

    /// <summary>One delivery of a message stamped with <paramref name="sentTimestamp"/> (a <see cref="Stopwatch"/> timestamp).</summary>
    public void Delivered(long sentTimestamp, long now)
    {
        if (sentTimestamp >= Volatile.Read(ref _recordFrom))
        {
            long micros = Math.Max(0, (now - sentTimestamp) * 1_000_000 / Stopwatch.Frequency);
            lock (_histogramGate)
            {
                _histogram.RecordValue(Math.Min(micros, HighestMicros));
            }
        }

        Delivered(1);
    }

    /// <summary>
    /// Completes at the next delivery after the caller saw <paramref name="observedReceived"/>, or after
    /// <paramref name="timeout"/>. Checking again after registering closes the lost-wake-up window: deliveries that
    /// arrived between the caller's check and the registration complete the wait at once.
    /// </summary>
    public Task WaitForProgressAsync(long observedReceived, TimeSpan timeout)
    {
        var waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        TaskCompletionSource current = Interlocked.CompareExchange(ref _waiter, waiter, null) ?? waiter;
        if (Received != observedReceived)
        {
            return Task.CompletedTask;
        }

        return current.Task.WaitAsync(timeout).ContinueWith(static _ => { }, TaskScheduler.Default);
    }

    public (double P50, double P99, double P999, double Max, long Count) Percentiles()
    {
        lock (_histogramGate)
        {
            if (_histogram.TotalCount == 0)
            {
                return (double.NaN, double.NaN, double.NaN, double.NaN, 0);
            }

            return (_histogram.GetValueAtPercentile(50) / 1000.0, _histogram.GetValueAtPercentile(99) / 1000.0,
                _histogram.GetValueAtPercentile(99.9) / 1000.0, _histogram.GetMaxValue() / 1000.0, _histogram.TotalCount);
        }
    }

    private const long HighestMicros = 60_000_000;

    private static LongHistogram NewHistogram() => new(HighestMicros, 3);
}
