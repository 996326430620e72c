using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Threading;

namespace GroupRelay.Internal;

/// <summary>
/// A concurrent map from a string key to a set of values: the shape of the group index (group to members),
/// the online list (user to connections) and the watcher index (user to watching connections).
/// An entry is created by its first value and removed atomically with its last, so nothing is left behind.
/// </summary>
/// <remarks>
/// Thread-safety in one sentence: each entry has its own lock for writes, and readers take an immutable array
/// snapshot that is rebuilt at most once after each change, so reads on the hot path neither block writers nor allocate.
/// </remarks>
internal sealed class SetIndex<T>
    where T : notnull
{
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly IEqualityComparer<T>? _comparer;

    public SetIndex(IEqualityComparer<T>? comparer = null) => _comparer = comparer;

    /// <summary>Number of keys with at least one value.</summary>
    public int KeyCount => _entries.Count;

    public ICollection<string> Keys => _entries.Keys;

    /// <summary>Adds a value; returns false when it was there already. <paramref name="first"/> is true when the key was created.</summary>
    public bool Add(string key, T value, out bool first)
    {
        while (true)
        {
            Entry entry = _entries.GetOrAdd(key, static (_, comparer) => new Entry(comparer), _comparer);
            lock (entry)
            {
                if (entry.Removed)
                {
                    // Lost a race with the removal of the last value: the entry is gone from the map, take a fresh one.
                    continue;
                }

                bool added = entry.Set.Add(value);
                first = added && entry.Set.Count == 1;
                if (added)
                {
                    entry.Snapshot = null;
                }

                return added;
            }
        }
    }

    /// <summary>Removes a value; returns false when it was not there. <paramref name="last"/> is true when the key was removed with it.</summary>
    public bool Remove(string key, T value, out bool last)
    {
        last = false;
        if (!_entries.TryGetValue(key, out Entry? entry))
        {
            return false;
        }

        lock (entry)
        {
            if (entry.Removed || !entry.Set.Remove(value))
            {
                return false;
            }

            entry.Snapshot = null;
            if (entry.Set.Count == 0)
            {
                entry.Removed = true;
                _entries.TryRemove(new KeyValuePair<string, Entry>(key, entry));
                last = true;
            }

            return true;
        }
    }

    /// <summary>Removes a key with all its values and returns them (empty when the key did not exist).</summary>
    public T[] RemoveKey(string key)
    {
        if (!_entries.TryRemove(key, out Entry? entry))
        {
            return Array.Empty<T>();
        }

        lock (entry)
        {
            entry.Removed = true;
            var values = new T[entry.Set.Count];
            entry.Set.CopyTo(values);
            entry.Set.Clear();
            entry.Snapshot = null;
            return values;
        }
    }

    /// <summary>A snapshot of the values of a key; never null, never allocates once built.</summary>
    public T[] Get(string key)
    {
        if (!_entries.TryGetValue(key, out Entry? entry))
        {
            return Array.Empty<T>();
        }

        T[]? snapshot = Volatile.Read(ref entry.Snapshot);
        if (snapshot is not null)
        {
            return snapshot;
        }

        lock (entry)
        {
            if (entry.Snapshot is null)
            {
                var values = new T[entry.Set.Count];
                entry.Set.CopyTo(values);
                Volatile.Write(ref entry.Snapshot, values);
            }

            return entry.Snapshot;
        }
    }

    public bool Contains(string key, T value)
    {
        if (!_entries.TryGetValue(key, out Entry? entry))
        {
            return false;
        }

        lock (entry)
        {
            return !entry.Removed && entry.Set.Contains(value);
        }
    }

    public bool ContainsKey(string key) => _entries.ContainsKey(key);

    private sealed class Entry
    {
        public readonly HashSet<T> Set;
        public T[]? Snapshot;
        public bool Removed;

        public Entry(IEqualityComparer<T>? comparer) => Set = new HashSet<T>(comparer);
    }
}
