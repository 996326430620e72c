using System;
using System.Threading;
using System.Threading.Tasks;

namespace GroupRelay.Internal;

/// <summary>
/// What a node does in the background for its groups: every <see cref="SweepInterval"/> it drops the per-group state of
/// groups that are dead here (no local member, nothing in flight, unused for <see cref="DropGrace"/>): the publish
/// queues, the channel subscription entries and the delivery sequences, the same idea and timings as the in-process
/// backplane; on every heartbeat it refreshes the expiry of the stream keys of the groups it holds
/// (<see cref="StreamKeyRefresher"/>). It also stops what runs per message when the node stops.
/// </summary>
/// <remarks>
/// Thread-safety in one sentence: the sweep runs on the timer, one at a time (a tick that finds one under way skips),
/// and each part it sweeps is safe against the traffic that goes on meanwhile (see their remarks); the refresh runs on
/// the heartbeat loop, and start and stop are called by the hosted service one after the other.
/// </remarks>
internal sealed class GroupUpkeep
{
    /// <summary>How often the sweep runs.</summary>
    internal static readonly TimeSpan SweepInterval = TimeSpan.FromSeconds(10);

    /// <summary>How long a group's state stays after it was last used, even when it could be dropped.</summary>
    internal static readonly TimeSpan DropGrace = TimeSpan.FromSeconds(30);

    private readonly GroupSubscriptions _subscriptions;
    private readonly RedisMessagePublisher _publisher;
    private readonly NodeDelivery _delivery;
    private readonly StreamKeyRefresher _refresher;
    private readonly EchoTracker _echoes;
    private readonly PublishScript _script;
    private ITimer? _sweeper;
    private int _sweeping;

    public GroupUpkeep(GroupSubscriptions subscriptions, RedisMessagePublisher publisher, NodeDelivery delivery, StreamKeyRefresher refresher, EchoTracker echoes, PublishScript script)
    {
        _subscriptions = subscriptions;
        _publisher = publisher;
        _delivery = delivery;
        _refresher = refresher;
        _echoes = echoes;
        _script = script;
    }

    /// <summary>The per-group entries this node holds: publish queues, subscription entries, delivery sequences.</summary>
    internal (int Queues, int Subscriptions, int Sequences) GroupStateCounts => (_publisher.QueueCount, _subscriptions.EntryCount, _delivery.SequenceCount);

    /// <summary>Starts the sweep timer (on the relay's <see cref="TimeProvider"/>, so a test advances it).</summary>
    public void Start()
        => _sweeper ??= _delivery.Clock.CreateTimer(static state => ((GroupUpkeep)state!).Sweep(), this, SweepInterval, SweepInterval);

    /// <summary>One heartbeat's share of the stream keys' refresh; returns how many groups it refreshed.</summary>
    public Task<int> RefreshAsync() => _refresher.RefreshDueAsync();

    /// <summary>
    /// Drops the state of dead groups. Subscriptions first (an entry goes once unsubscribed without a local member), then
    /// publish queues (idle, nothing waiting, no flush), then sequences (no member, not subscribed, no catch-up, idle).
    /// </summary>
    internal void Sweep()
    {
        if (Interlocked.Exchange(ref _sweeping, 1) == 1)
        {
            return;
        }

        try
        {
            _subscriptions.Sweep();
            _publisher.Sweep(DropGrace);
            _delivery.Sweep(DropGrace, _subscriptions.IsSubscribed);
        }
        finally
        {
            Volatile.Write(ref _sweeping, 0);
        }
    }

    /// <summary>The node stops: no more sweeps, resolutions of lost replies give up, echo waits are released.</summary>
    public async Task StopAsync()
    {
        if (Interlocked.Exchange(ref _sweeper, null) is ITimer timer)
        {
            await timer.DisposeAsync().ConfigureAwait(false);
        }

        _script.Stop();
        await _echoes.StopAsync().ConfigureAwait(false);
    }
}
