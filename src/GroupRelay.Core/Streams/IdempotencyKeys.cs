using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using GroupRelay.ScaleOut;

namespace GroupRelay.Internal;

/// <summary>
/// The idempotency keys of the in-process stream owner (PROTOCOL.md section 3, "Idempotent send"): per user, the
/// <c>id</c>s of its recent sends with the group and seq they got, for <see cref="GroupRelayOptions.IdempotencyWindow"/>
/// and at most <see cref="GroupRelayOptions.MaxIdempotencyKeysPerUser"/> ids (the oldest go first).
/// </summary>
/// <remarks>
/// <para>
/// A send first <see cref="Reserve"/>s its key; a repeat that arrives while the first is still being published waits
/// for its seq, so two connections of one user racing with the same id publish once. Expired keys are removed when the
/// user's keys are touched and by one sweep timer for all users (no timer per key), so memory stays bounded by the
/// window and the per-user cap.
/// </para>
/// <para>Thread-safety in one sentence: a map of users, and one lock per user around its keys.</para>
/// </remarks>
internal sealed class IdempotencyKeys : IDisposable
{
    private readonly ConcurrentDictionary<string, UserKeys> _users = new(StringComparer.Ordinal);
    private readonly TimeProvider _clock;
    private readonly TimeSpan _window;
    private readonly int _maxPerUser;
    private readonly ITimer _sweeper;

    public IdempotencyKeys(GroupRelayOptions options, TimeProvider clock)
    {
        _clock = clock;
        _window = options.IdempotencyWindow;
        _maxPerUser = options.MaxIdempotencyKeysPerUser;
        TimeSpan period = _window / 2 > TimeSpan.FromMilliseconds(100) ? _window / 2 : TimeSpan.FromMilliseconds(100);
        _sweeper = clock.CreateTimer(static state => ((IdempotencyKeys)state!).Sweep(), this, period, period);
    }

    /// <summary>Users that have keys (for tests: zero once every window passed).</summary>
    public int UserCount => _users.Count;

    /// <summary>
    /// Reserves <paramref name="id"/> of <paramref name="userId"/> for a send to <paramref name="groupId"/>, or returns
    /// the outcome it already has: a duplicate (its seq, once known) or a conflict (it was used for another group).
    /// </summary>
    public Reservation Reserve(string userId, string id, string groupId)
    {
        long now = _clock.GetTimestamp();
        while (true)
        {
            UserKeys keys = _users.GetOrAdd(userId, static _ => new UserKeys());
            lock (keys)
            {
                if (keys.Removed)
                {
                    continue; // lost a race with the sweep that removed this user's last key
                }

                keys.Prune(now, _clock, _window);
                if (keys.ById.TryGetValue(id, out Entry? entry))
                {
                    return string.Equals(entry.Group, groupId, StringComparison.Ordinal)
                        ? Reservation.Duplicate(entry.Seq.Task)
                        : Reservation.Conflict(entry.Group);
                }

                if (keys.ById.Count >= _maxPerUser)
                {
                    keys.RemoveOldest();
                }

                entry = new Entry(id, groupId, now);
                keys.ById.Add(id, entry);
                keys.Order.Enqueue(entry);
                return Reservation.New(this, userId, entry);
            }
        }
    }

    /// <summary>The send that reserved <paramref name="entry"/> failed: its key is free again, and a waiting repeat fails too.</summary>
    private void Abandon(string userId, Entry entry, Exception exception)
    {
        if (_users.TryGetValue(userId, out UserKeys? keys))
        {
            lock (keys)
            {
                if (keys.ById.TryGetValue(entry.Id, out Entry? current) && ReferenceEquals(current, entry))
                {
                    keys.ById.Remove(entry.Id);
                }
            }
        }

        entry.Seq.TrySetException(exception);
    }

    private void Sweep()
    {
        long now = _clock.GetTimestamp();
        foreach (KeyValuePair<string, UserKeys> pair in _users)
        {
            UserKeys keys = pair.Value;
            lock (keys)
            {
                keys.Prune(now, _clock, _window);
                if (keys.ById.Count == 0)
                {
                    keys.Removed = true;
                    _users.TryRemove(pair);
                }
            }
        }
    }

    public void Dispose() => _sweeper.Dispose();

    /// <summary>The answer of <see cref="Reserve"/>.</summary>
    internal readonly struct Reservation
    {
        private readonly IdempotencyKeys? _owner;
        private readonly string? _userId;
        private readonly Entry? _entry;

        private Reservation(IdempotencyKeys? owner, string? userId, Entry? entry, Task<long>? firstSeq, string? conflictingGroup)
        {
            _owner = owner;
            _userId = userId;
            _entry = entry;
            FirstSeq = firstSeq;
            ConflictingGroup = conflictingGroup;
        }

        /// <summary>The seq of the first send with this key (completes once that one is published); null unless a duplicate.</summary>
        public Task<long>? FirstSeq { get; }

        /// <summary>The group the key was first used for, when that was another group.</summary>
        public string? ConflictingGroup { get; }

        /// <summary>True when this send must be published (and then <see cref="Complete"/>d or <see cref="Fail"/>ed).</summary>
        public bool IsNew => _entry is not null;

        public static Reservation New(IdempotencyKeys owner, string userId, Entry entry) => new(owner, userId, entry, null, null);

        public static Reservation Duplicate(Task<long> firstSeq) => new(null, null, null, firstSeq, null);

        public static Reservation Conflict(string group) => new(null, null, null, null, group);

        public void Complete(long seq) => _entry?.Seq.TrySetResult(seq);

        public void Fail(Exception exception)
        {
            if (_entry is not null)
            {
                _owner!.Abandon(_userId!, _entry, exception);
            }
        }
    }

    /// <summary>One remembered id.</summary>
    internal sealed class Entry(string id, string group, long created)
    {
        public string Id { get; } = id;

        public string Group { get; } = group;

        public long Created { get; } = created;

        /// <summary>Completes with the seq the send got; repeats that come while it is being published wait on it.</summary>
        public TaskCompletionSource<long> Seq { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed class UserKeys
    {
        public readonly Dictionary<string, Entry> ById = new(StringComparer.Ordinal);
        public readonly Queue<Entry> Order = new();
        public bool Removed;

        /// <summary>Drops the keys older than the window (they are in insertion order).</summary>
        public void Prune(long now, TimeProvider clock, TimeSpan window)
        {
            while (Order.TryPeek(out Entry? oldest) && clock.GetElapsedTime(oldest.Created, now) >= window)
            {
                RemoveOldest();
            }
        }

        public void RemoveOldest()
        {
            Entry oldest = Order.Dequeue();
            if (ById.TryGetValue(oldest.Id, out Entry? current) && ReferenceEquals(current, oldest))
            {
                ById.Remove(oldest.Id);
            }
        }
    }
}
