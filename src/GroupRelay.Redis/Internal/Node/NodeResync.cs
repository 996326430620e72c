using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

namespace GroupRelay.Internal;

/// <summary>
/// Writes this node's whole state to Redis again: after the first heartbeat, after an outage, after Redis lost its
/// data, or after other nodes took this one for dead. Also restores the subscriptions, raises the seq counters of the
/// streams whose epoch Redis kept to at least what this node delivered in it (what it numbered itself while Redis was
/// away; a stream Redis lost gets a new epoch and a reset instead), and announces users and memberships that left this
/// node while Redis was away.
/// </summary>
/// <remarks>
/// Thread-safety in one sentence: runs holding <see cref="SharedExclusiveGate"/> alone, so no write of this node to
/// Redis is in flight and the local state it copies is complete; the heartbeat loop is its only caller.
/// </remarks>
internal sealed class NodeResync
{
    private readonly SharedExclusiveGate _gate;
    private readonly RedisConnection _connection;
    private readonly RedisNodeEntries _entries;
    private readonly GroupSubscriptions _subscriptions;
    private readonly RedisEventsChannel _events;
    private readonly RedisAnnouncer _announcer;

    public NodeResync(SharedExclusiveGate gate, RedisConnection connection, RedisNodeEntries entries, GroupSubscriptions subscriptions, RedisEventsChannel events, RedisAnnouncer announcer)
    {
        _gate = gate;
        _connection = connection;
        _entries = entries;
        _subscriptions = subscriptions;
        _events = events;
        _announcer = announcer;
    }

    /// <summary>Rewrites everything; returns how many users and groups were written. A failure leaves the resync due.</summary>
    public async Task<(int Users, int Groups)> RunAsync(CancellationToken stopping)
    {
        using (await _gate.EnterExclusiveAsync(stopping).ConfigureAwait(false))
        {
            try
            {
                _connection.ResyncStarted();
                NodeRemoval removed = await _entries.RemoveNodeAsync(_connection.NodeId, "self").ConfigureAwait(false);
                var writes = new List<Task>();
                (int users, int groups) = await _entries.RewriteAsync(writes).ConfigureAwait(false);
                writes.Add(_subscriptions.RestoreAllAsync());
                writes.Add(_events.EnsureSubscribedAsync());
                await Task.WhenAll(writes).ConfigureAwait(false);

                // Users that left this node while Redis was away: the others have not heard yet.
                _announcer.AnnounceGone(await _entries.NoLongerHeldAsync(removed).ConfigureAwait(false));
                return (users, groups);
            }
            catch
            {
                _connection.RequestResync();
                throw;
            }
        }
    }
}
