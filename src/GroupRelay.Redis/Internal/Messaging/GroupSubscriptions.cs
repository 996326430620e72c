using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Channels;
using System.Threading.Tasks;
using StackExchange.Redis;

namespace GroupRelay.Internal;

/// <summary>
/// This node's subscriptions to group channels: a node is subscribed to a group's channel exactly while it holds a
/// member of the group (the first local member subscribes before its <c>welcome</c> is sent, the last one unsubscribes).
/// </summary>
/// <remarks>
/// <para>
/// Thread-safety in one sentence: each group has an async gate under which <see cref="ReconcileAsync"/> compares the
/// local group index with the subscription and fixes the difference, so concurrent joins and leaves of a group (by
/// different users) converge on the right state whatever their interleaving: the last reconcile sees the last change.
/// The dead-group sweep removes a group's entry only under its gate, unsubscribed and without a local member, and marks
/// it dropped there: a reconcile that waited on that gate takes a fresh entry, so a group never has two.
/// </para>
/// <para>
/// New subscriptions are handed to the receiver through a channel rather than a callback: the receiver delivers
/// through <see cref="GroupRelay.ScaleOut.RelayLocalDelivery"/>, which is built on the group directory that calls this
/// type, so a callback would make construction circular. Nothing is lost meanwhile: a subscription's queue keeps its
/// messages until they are read.
/// </para>
/// </remarks>
internal sealed class GroupSubscriptions
{
    private readonly ConcurrentDictionary<string, Subscription> _subscriptions = new(StringComparer.Ordinal);
    private readonly Channel<GroupChannelSubscription> _subscribed = Channel.CreateUnbounded<GroupChannelSubscription>(new UnboundedChannelOptions { SingleReader = true });
    private readonly RedisGuard _guard;
    private readonly RedisKeys _keys;
    private readonly InMemoryGroupDirectory _directory;

    public GroupSubscriptions(RedisGuard guard, RedisKeys keys, InMemoryGroupDirectory directory)
    {
        _guard = guard;
        _keys = keys;
        _directory = directory;
    }

    /// <summary>The groups this node keeps a subscription entry for, subscribed or not (for tests and the dead-group measurement).</summary>
    internal int EntryCount => _subscriptions.Count;

    /// <summary>Every subscription made, in order; read by <see cref="GroupMessageReceiver"/>.</summary>
    public ChannelReader<GroupChannelSubscription> Subscribed => _subscribed.Reader;

    /// <summary>Whether this node is subscribed to the group's channel (then a sender here waits for its echo).</summary>
    public bool IsSubscribed(string groupId)
        => _subscriptions.TryGetValue(groupId, out Subscription? subscription) && Volatile.Read(ref subscription.Queue) is not null;

    /// <summary>Subscribes while this node holds a member of the group, unsubscribes otherwise.</summary>
    /// <param name="groupId">The group whose local membership changed.</param>
    /// <param name="resubscribe">Unsubscribe the channel in the client first (a subscription that failed half-way may still be registered there).</param>
    public async Task ReconcileAsync(string groupId, bool resubscribe = false)
    {
        Subscription subscription;
        while (true)
        {
            subscription = _subscriptions.GetOrAdd(groupId, static _ => new Subscription());
            await subscription.Gate.WaitAsync().ConfigureAwait(false);
            if (!subscription.Dropped)
            {
                break;
            }

            subscription.Gate.Release();
        }

        try
        {
            bool wanted = _directory.GetMembers(groupId).Count > 0;
            if (wanted && subscription.Queue is null)
            {
                await SubscribeAsync(groupId, subscription, resubscribe).ConfigureAwait(false);
            }
            else if (!wanted && subscription.Queue is not null)
            {
                await UnsubscribeAsync(subscription).ConfigureAwait(false);
            }
        }
        finally
        {
            subscription.Gate.Release();
        }
    }

    /// <summary>
    /// Removes the entries of groups that are unsubscribed and have no local member (the first member to come back
    /// reconciles a fresh one). An entry whose gate is busy is left for the next sweep: a reconcile is under way.
    /// </summary>
    internal void Sweep()
    {
        foreach (KeyValuePair<string, Subscription> pair in _subscriptions)
        {
            Subscription subscription = pair.Value;
            if (Volatile.Read(ref subscription.Queue) is not null || _directory.GetMembers(pair.Key).Count > 0 || !subscription.Gate.Wait(0))
            {
                continue;
            }

            if (subscription.Queue is null && _directory.GetMembers(pair.Key).Count == 0)
            {
                subscription.Dropped = true;
                _subscriptions.TryRemove(pair);
            }

            subscription.Gate.Release();
        }
    }

    /// <summary>After an outage: every group this node holds an entry for is reconciled again, subscribing afresh.</summary>
    public Task RestoreAllAsync()
    {
        var restores = new List<Task>();
        foreach (string groupId in _subscriptions.Keys)
        {
            restores.Add(ReconcileAsync(groupId, resubscribe: true));
        }

        return Task.WhenAll(restores);
    }

    private async Task SubscribeAsync(string groupId, Subscription subscription, bool resubscribe)
    {
        (bool ok, ChannelMessageQueue queue) = await _guard.TryAsync("subscribe", (Channel: _keys.GroupChannel(groupId), resubscribe), static async (mux, s) =>
        {
            ISubscriber subscriber = mux.GetSubscriber();
            if (s.resubscribe)
            {
                await subscriber.UnsubscribeAsync(s.Channel).ConfigureAwait(false);
            }

            return await subscriber.SubscribeAsync(s.Channel).ConfigureAwait(false);
        }).ConfigureAwait(false);
        if (ok)
        {
            Volatile.Write(ref subscription.Queue, queue);
            _subscribed.Writer.TryWrite(new GroupChannelSubscription(groupId, queue, Fresh: !resubscribe));
        }
    }

    private async Task UnsubscribeAsync(Subscription subscription)
    {
        ChannelMessageQueue? queue = Interlocked.Exchange(ref subscription.Queue, null);
        if (queue is not null)
        {
            await _guard.TryAsync("unsubscribe", queue, static (_, q) => q.UnsubscribeAsync()).ConfigureAwait(false);
        }
    }

    [System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "The gate is never waited on with a timeout or a cancellable token, so it never allocates the wait handle that Dispose would free.")]
    private sealed class Subscription
    {
        public readonly SemaphoreSlim Gate = new(1, 1);
        public ChannelMessageQueue? Queue;

        /// <summary>Set under <see cref="Gate"/> when the sweep removed this entry.</summary>
        public bool Dropped;
    }
}
