using System;
using System.Collections.Generic;

namespace GroupRelay.Internal;

/// <summary>
/// The retained messages of every group stream in this process (PROTOCOL.md section 3, "Streams and epochs"): the same
/// <c>message</c> frame bytes that were fanned out, kept once, for <c>history</c>. Bounded per group
/// (<see cref="GroupRelayOptions.HistoryMessagesPerGroup"/>), by age (<see cref="GroupRelayOptions.HistoryMaxAge"/>) and
/// in total (<see cref="GroupRelayOptions.HistoryMaxBytes"/>); the oldest go first.
/// </summary>
/// <remarks>
/// <para>
/// One list in publication order across all groups (so the globally oldest is at its head, for the byte and age bounds)
/// and, threaded through it, one chain per group (for the per-group bound and for reading). Every change is O(1); reading
/// is O(the page) plus O(the distance from the nearer end of the group's chain to <c>after</c>).
/// </para>
/// <para>Thread-safety in one sentence: one lock guards the lists and every <see cref="Retention"/>'s fields.</para>
/// </remarks>
internal sealed class RetainedMessages
{
    private readonly object _lock = new();
    private readonly int _perGroup;
    private readonly long _maxBytes;
    private readonly TimeSpan _maxAge;
    private readonly TimeProvider _clock;
    private Node? _oldest;
    private Node? _newest;
    private long _bytes;
    private long _count;

    public RetainedMessages(GroupRelayOptions options, TimeProvider clock)
    {
        _perGroup = options.HistoryMessagesPerGroup;
        _maxBytes = options.HistoryMaxBytes;
        _maxAge = options.HistoryMaxAge;
        _clock = clock;
    }

    /// <summary>False when retention is switched off (<see cref="GroupRelayOptions.HistoryMessagesPerGroup"/> is 0).</summary>
    public bool Enabled => _perGroup > 0;

    /// <summary>Bytes of frames retained in all groups.</summary>
    public long Bytes
    {
        get
        {
            lock (_lock)
            {
                return _bytes;
            }
        }
    }

    /// <summary>Messages retained in all groups.</summary>
    public long Count
    {
        get
        {
            lock (_lock)
            {
                return _count;
            }
        }
    }

    /// <summary>Keeps <paramref name="frame"/> as message <paramref name="seq"/> of the group; evicts what the bounds ask for.</summary>
    public void Append(Retention group, long seq, byte[] frame)
    {
        if (!Enabled)
        {
            return;
        }

        long now = _clock.GetTimestamp();
        lock (_lock)
        {
            var node = new Node(group, seq, now, frame);
            node.Previous = _newest;
            if (_newest is null)
            {
                _oldest = node;
            }
            else
            {
                _newest.Next = node;
            }

            _newest = node;
            if (group.Newest is null)
            {
                group.Oldest = node;
            }
            else
            {
                group.Newest.GroupNext = node;
                node.GroupPrevious = group.Newest;
            }

            group.Newest = node;
            group.Count++;
            _bytes += frame.Length;
            _count++;
            if (group.Count > _perGroup)
            {
                Remove(group.Oldest!);
            }

            while (_bytes > _maxBytes && _oldest is not null)
            {
                Remove(_oldest);
            }

            RemoveExpired(now);
        }
    }

    /// <summary>
    /// The retained frames of the group with a seq above <paramref name="after"/>, oldest first, at most
    /// <paramref name="limit"/>, and the seq of the oldest message still retained (or null when none is).
    /// </summary>
    public (List<ReadOnlyMemory<byte>> Frames, long? OldestSeq, long LastReplayed) Read(Retention group, long after, int limit)
    {
        List<ReadOnlyMemory<byte>> frames;
        lock (_lock)
        {
            RemoveExpired(_clock.GetTimestamp());

            // Sized once: a growing list cost six arrays for a page of 100 (measured by HistoryBenchmarks).
            frames = new List<ReadOnlyMemory<byte>>(Math.Min(limit, group.Count));
            long lastReplayed = after;
            for (Node? node = FirstAfter(group, after); node is not null && frames.Count < limit; node = node.GroupNext)
            {
                frames.Add(node.Frame);
                lastReplayed = node.Seq;
            }

            return (frames, group.Oldest?.Seq, lastReplayed);
        }
    }

    /// <summary>
    /// The group's first retained message with a seq above <paramref name="after"/>, or null. A group's chain holds
    /// consecutive seqs (every bound removes a group's oldest), so the walk starts from the nearer end: a client resuming
    /// a few messages behind costs a few steps, not the whole retention (which may be large).
    /// </summary>
    private static Node? FirstAfter(Retention group, long after)
    {
        Node? oldest = group.Oldest, newest = group.Newest;
        if (oldest is null || newest!.Seq <= after)
        {
            return null;
        }

        if (oldest.Seq > after)
        {
            return oldest;
        }

        if (after - oldest.Seq < newest.Seq - after)
        {
            Node node = oldest;
            while (node.Seq <= after)
            {
                node = node.GroupNext!;
            }

            return node;
        }

        Node first = newest;
        while (first.GroupPrevious is { } previous && previous.Seq > after)
        {
            first = previous;
        }

        return first;
    }

    /// <summary>Drops the messages older than the age bound; returns whether the group has none left.</summary>
    public bool Trim(Retention group)
    {
        lock (_lock)
        {
            RemoveExpired(_clock.GetTimestamp());
            return group.Count == 0;
        }
    }

    private void RemoveExpired(long now)
    {
        while (_oldest is not null && _clock.GetElapsedTime(_oldest.Timestamp, now) >= _maxAge)
        {
            Remove(_oldest);
        }
    }

    // Removes a node that is its group's oldest (every bound removes the oldest of something, and a group's messages
    // are in the global list in the group's order, so the global oldest is its group's oldest too).
    private void Remove(Node node)
    {
        Retention group = node.Group;
        group.Oldest = node.GroupNext;
        if (group.Oldest is null)
        {
            group.Newest = null;
        }
        else
        {
            group.Oldest.GroupPrevious = null;
        }

        group.Count--;
        if (node.Previous is null)
        {
            _oldest = node.Next;
        }
        else
        {
            node.Previous.Next = node.Next;
        }

        if (node.Next is null)
        {
            _newest = node.Previous;
        }
        else
        {
            node.Next.Previous = node.Previous;
        }

        _bytes -= node.Frame.Length;
        _count--;
    }

    /// <summary>One group's chain of retained messages; its fields are guarded by the owner's lock.</summary>
    internal sealed class Retention
    {
        public Node? Oldest;
        public Node? Newest;
        public int Count;
    }

    /// <summary>One retained message.</summary>
    internal sealed class Node(Retention group, long seq, long timestamp, byte[] frame)
    {
        public Retention Group { get; } = group;

        public long Seq { get; } = seq;

        /// <summary>When it was retained (<see cref="TimeProvider.GetTimestamp"/>).</summary>
        public long Timestamp { get; } = timestamp;

        public byte[] Frame { get; } = frame;

        public Node? Previous;
        public Node? Next;
        public Node? GroupNext;
        public Node? GroupPrevious;
    }
}
