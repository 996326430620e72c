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
    private readonly Counter<long> _closes;
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

        _connections = _meter.CreateUpDownCounter<long>("grouprelay.connections", "{connection}", "Open connections.");
        _closes = _meter.CreateCounter<long>("grouprelay.connection.closes", "{connection}", "Connections closed, by close code.");
        _messages = _meter.CreateCounter<long>("grouprelay.messages", "{message}", "Messages published to a group from this node.");
        _deliveries = _meter.CreateCounter<long>("grouprelay.deliveries", "{delivery}", "Message frames queued to a connection.");
        _drops = _meter.CreateCounter<long>("grouprelay.drops", "{frame}", "Frames or requests dropped, by reason.");
        _requestErrors = _meter.CreateCounter<long>("grouprelay.request.errors", "{request}", "Requests answered with an error frame, by code.");
        _keepAliveTimeouts = _meter.CreateCounter<long>("grouprelay.keepalive.timeouts", "{connection}", "Connections dropped because the peer did not answer a keep-alive ping within KeepAliveInterval + KeepAliveTimeout.");
        _observerFailures = _meter.CreateCounter<long>("grouprelay.observer.failures", "{call}", "Calls of a message observer that threw (the message was delivered; the observer missed it).");
        _refusals = _meter.CreateCounter<long>("grouprelay.connection.refusals", "{connection}", "Connections refused because a connection limit was full, by limit (user, address, total).");
        _fanoutDuration = _meter.CreateHistogram<double>("grouprelay.fanout.duration", "s", "Time to write a message's frame and queue it to every target connection of this node.");
    }

    public void ConnectionOpened() => _connections.Add(1);

    public void ConnectionClosed(int closeCode)
    {
        _connections.Add(-1);
        _closes.Add(1, new KeyValuePair<string, object?>("code", closeCode));
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

    public void ConnectionRefused(string limit) => _refusals.Add(1, new KeyValuePair<string, object?>("limit", limit));

    public void Dropped(string reason) => _drops.Add(1, new KeyValuePair<string, object?>("reason", reason));

    public void RequestError(string code) => _requestErrors.Add(1, new KeyValuePair<string, object?>("code", code));

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
