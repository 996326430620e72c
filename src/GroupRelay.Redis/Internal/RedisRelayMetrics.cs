using System;
using System.Collections.Generic;
using System.Diagnostics.Metrics;

namespace GroupRelay.Internal;

/// <summary>The Redis scale-out's instruments on the <c>GroupRelay</c> meter (names <c>grouprelay.redis.*</c>).</summary>
/// <remarks>Thread-safe: instruments are thread-safe and created in the constructor (the gauge once, by the connection).</remarks>
internal sealed class RedisRelayMetrics : IDisposable
{
    private readonly Meter _meter;
    private readonly bool _ownsMeter;
    private readonly Counter<long> _stateChanges;
    private readonly Counter<long> _published;
    private readonly Counter<long> _received;
    private readonly Counter<long> _fallbacks;
    private readonly Counter<long> _reaped;
    private readonly Counter<long> _outOfOrder;
    private readonly Counter<long> _ackTimeouts;
    private readonly Counter<long> _streamResets;
    private readonly Counter<long> _duplicates;
    private readonly Counter<long> _caughtUp;
    private readonly Counter<long> _resolutions;

    public RedisRelayMetrics(IMeterFactory? meterFactory)
    {
        if (meterFactory is null)
        {
            _meter = new Meter("GroupRelay");
            _ownsMeter = true;
        }
        else
        {
            _meter = meterFactory.Create("GroupRelay");
        }

        _stateChanges = _meter.CreateCounter<long>("grouprelay.redis.connection.state_changes", "{change}", "Redis connection state changes, by state (lost, restored).");
        _published = _meter.CreateCounter<long>("grouprelay.redis.published", "{message}", "Messages and events published to Redis, by kind.");
        _received = _meter.CreateCounter<long>("grouprelay.redis.received", "{message}", "Messages and events received from Redis, by kind.");
        _fallbacks = _meter.CreateCounter<long>("grouprelay.redis.fallbacks", "{operation}", "Operations served from local state because Redis was unavailable, by operation.");
        _reaped = _meter.CreateCounter<long>("grouprelay.redis.nodes.reaped", "{node}", "Dead nodes whose users this node removed.");
        _outOfOrder = _meter.CreateCounter<long>("grouprelay.redis.out_of_order", "{message}", "Messages dropped because their seq was not above the last one delivered.");
        _ackTimeouts = _meter.CreateCounter<long>("grouprelay.redis.membership.ack_timeouts", "{change}", "Run-time membership changes whose nodes did not all acknowledge within EchoTimeout.");
        _streamResets = _meter.CreateCounter<long>("grouprelay.redis.stream.resets", "{reset}", "Group streams whose epoch changed under this node's open connections (each got a reset).");
        _caughtUp = _meter.CreateCounter<long>("grouprelay.redis.stream.caught_up", "{message}", "Messages a node missed on a group's channel (a seq gap, or its subscription dropped), by outcome: read from the group's stream and delivered, or missing from it.");
        _resolutions = _meter.CreateCounter<long>("grouprelay.redis.publish.resolutions", "{batch}", "Publish batches whose reply was lost, by what Redis said became of them: ran (answered with their seqs), fenced (refused: never delivered), unknown (Redis out of reach too long: senders told they may have been delivered).");
        _duplicates = _meter.CreateCounter<long>("grouprelay.redis.idempotent_sends", "{message}", "Sends with an idempotency key that Redis did not publish, by outcome (duplicate, conflict).");
    }

    /// <summary>Creates the <c>grouprelay.redis.connected</c> gauge; called once, by the connection it observes.</summary>
    public void ObserveConnected(Func<bool> isConnected)
        => _meter.CreateObservableGauge("grouprelay.redis.connected", () => isConnected() ? 1 : 0, "1", "1 while this node is connected to Redis, else 0.");

    public void StateChanged(string state) => _stateChanges.Add(1, new KeyValuePair<string, object?>("grouprelay.redis.state", state));

    public void Published(string kind, int count = 1) => _published.Add(count, new KeyValuePair<string, object?>("grouprelay.redis.kind", kind));

    public void Received(string kind, int count = 1) => _received.Add(count, new KeyValuePair<string, object?>("grouprelay.redis.kind", kind));

    public void Fallback(string operation) => _fallbacks.Add(1, new KeyValuePair<string, object?>("grouprelay.redis.operation", operation));

    public void Reaped() => _reaped.Add(1);

    public void OutOfOrder() => _outOfOrder.Add(1);

    public void MembershipAckTimedOut() => _ackTimeouts.Add(1);

    public void StreamReset() => _streamResets.Add(1);

    public void CaughtUp(string outcome, long count)
    {
        if (count > 0)
        {
            _caughtUp.Add(count, new KeyValuePair<string, object?>("grouprelay.redis.outcome", outcome));
        }
    }

    public void Resolved(string outcome) => _resolutions.Add(1, new KeyValuePair<string, object?>("grouprelay.redis.outcome", outcome));

    public void NotPublished(string outcome) => _duplicates.Add(1, new KeyValuePair<string, object?>("grouprelay.redis.outcome", outcome));

    public void Dispose()
    {
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }
}
