using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace GroupRelay.Internal;

/// <summary>
/// The relay's instruments on the <c>GroupRelay</c> meter. Names and units follow OpenTelemetry's conventions;
/// docs/configuration.md lists them.
/// </summary>
internal sealed class RelayMetrics : IDisposable
{
    public const string MeterName = "GroupRelay";

    private readonly Meter _meter;
    private readonly bool _ownsMeter;
    private readonly UpDownCounter<long> _connections;
    private readonly Histogram<double> _connectionDuration;
    private readonly Counter<long> _messages;
    private readonly Counter<long> _deliveries;
    private readonly Counter<long> _observerFailures;
    private readonly Counter<long> _refusals;
    private readonly Counter<long> _drops;
    private readonly Counter<long> _requestErrors;
    private readonly Histogram<double> _fanoutDuration;
    private readonly Counter<long> _keepAliveTimeouts;

    public RelayMetrics(IMeterFactory? meterFactory)
    {
        if (meterFactory is null)
        {
            _meter = new Meter(MeterName);
            _ownsMeter = true;
        }
        else
        {
            _meter = meterFactory.Create(MeterName);
        }

        // Names, units and attributes per OpenTelemetry's conventions: an UpDownCounter is not pluralised (".count"),
        // attributes are namespaced (grouprelay.*) or the common error.type, every histogram advises its buckets.
        _connections = _meter.CreateUpDownCounter<long>("grouprelay.connection.count", "{connection}", "Open connections.");
        _connectionDuration = CreateHistogram("grouprelay.connection.duration", "s", "How long connections stayed open, by close code (error.type for the codes that are failures).", ConnectionDurationBuckets);
        _messages = _meter.CreateCounter<long>("grouprelay.messages", "{message}", "Messages published to a group from this node.");
        _deliveries = _meter.CreateCounter<long>("grouprelay.deliveries", "{delivery}", "Message frames queued to a connection.");
        _drops = _meter.CreateCounter<long>("grouprelay.drops", "{frame}", "Frames or requests dropped, by reason.");
        _requestErrors = _meter.CreateCounter<long>("grouprelay.request.errors", "{request}", "Requests answered with an error frame, by code.");
        _keepAliveTimeouts = _meter.CreateCounter<long>("grouprelay.keepalive.timeouts", "{connection}", "Connections dropped because the peer did not answer a keep-alive ping within KeepAliveInterval + KeepAliveTimeout.");
        _observerFailures = _meter.CreateCounter<long>("grouprelay.observer.failures", "{call}", "Calls of a message observer that threw (the message was delivered; the observer missed it).");
        _refusals = _meter.CreateCounter<long>("grouprelay.connection.refusals", "{connection}", "Connections refused because a connection limit was full, by limit (user, address, total).");
        _fanoutDuration = CreateHistogram("grouprelay.fanout.duration", "s", "Time to write a message's frame and queue it to every target connection of this node.", FanoutDurationBuckets);
    }

    /// <summary>Bucket bounds of <c>grouprelay.fanout.duration</c>, in seconds: 1 µs to 100 ms (a fan-out takes microseconds).</summary>
    internal static readonly double[] FanoutDurationBuckets = [0.000001, 0.0000025, 0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1];

    /// <summary>Bucket bounds of <c>grouprelay.connection.duration</c>, in seconds: 10 ms to a day.</summary>
    internal static readonly double[] ConnectionDurationBuckets = [0.01, 0.1, 1, 5, 15, 30, 60, 300, 900, 1800, 3600, 7200, 14400, 43200, 86400];

    public void ConnectionOpened() => _connections.Add(1);

    public void ConnectionClosed(int closeCode, TimeSpan openFor)
    {
        _connections.Add(-1);
        var tags = new TagList { { "grouprelay.close_code", closeCode } };
        if (closeCode is not (RelayCloseCodes.Normal or RelayCloseCodes.GoingAway))
        {
            tags.Add("error.type", closeCode.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        _connectionDuration.Record(openFor.TotalSeconds, tags);
    }

    private Histogram<double> CreateHistogram(string name, string unit, string description, double[] buckets)
    {
#if NET9_0_OR_GREATER
        return _meter.CreateHistogram<double>(name, unit, description, tags: null, new InstrumentAdvice<double> { HistogramBucketBoundaries = buckets });
#else
        // .NET 8's System.Diagnostics.DiagnosticSource has no bucket advice: a host on .NET 8 sets these bounds with an
        // OpenTelemetry View (docs/configuration.md lists them).
        _ = buckets;
        return _meter.CreateHistogram<double>(name, unit, description);
#endif
    }

    /// <summary>A message was handed to the group's stream owner (counted on the node it was published on).</summary>
    public void MessagePublished() => _messages.Add(1);

    /// <summary>A message's frame was written and queued to this node's connections, starting at <paramref name="startTimestamp"/>.</summary>
    public void Delivered(int deliveries, long startTimestamp)
    {
        _deliveries.Add(deliveries);
        _fanoutDuration.Record(Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds);
    }

    public void KeepAliveTimedOut() => _keepAliveTimeouts.Add(1);

    public void ObserverFailed() => _observerFailures.Add(1);

    public void ConnectionRefused(string limit) => _refusals.Add(1, new KeyValuePair<string, object?>("grouprelay.connection.limit", limit));

    public void Dropped(string reason) => _drops.Add(1, new KeyValuePair<string, object?>("grouprelay.drop.reason", reason));

    public void RequestError(string code) => _requestErrors.Add(1, new KeyValuePair<string, object?>("error.type", code));

    public void Dispose()
    {
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }
}

/// <summary>Values of the <c>reason</c> tag of <c>grouprelay.drops</c>.</summary>
internal static class DropReasons
{
    public const string SlowConsumer = "slow_consumer";
    public const string ConnectionClosing = "connection_closing";
    public const string RateLimited = "rate_limited";

    /// <summary>An accepted message that found the message observers' queue full: delivered, not observed.</summary>
    public const string ObserverQueueFull = "observer_queue_full";
}
