using StackExchange.Redis;

namespace GroupRelay.Internal;

/// <summary>
/// One group's messages on this node waiting for the next publish script, and the names the script needs (built once
/// per group, not per message). Dropped by <see cref="RedisMessagePublisher.Sweep"/> once idle: a group this node
/// publishes nothing to holds none.
/// </summary>
/// <remarks>
/// Thread-safety: the names are immutable; <see cref="Waiting"/>, <see cref="Flushing"/> and <see cref="Dropped"/> are
/// guarded by this object's monitor; <see cref="LastUsed"/> is written under it and read without it (volatile).
/// </remarks>
internal sealed class GroupQueue(string groupId, RedisKeys keys, long now)
{
    public string GroupId { get; } = groupId;

    public RedisKey SeqKey { get; } = keys.Seq(groupId);

    public RedisKey EpochKey { get; } = keys.Epoch(groupId);

    public RedisKey StreamKey { get; } = keys.Stream(groupId);

    /// <summary>This node's mark of its last batch for the group (<see cref="RedisKeys.BatchMark"/>).</summary>
    public RedisKey MarkKey { get; } = RedisKeys.BatchMark(keys.StreamPrefix(groupId), keys.NodeId);

    /// <summary>This node's fence of given-up batches for the group (<see cref="RedisKeys.BatchFence"/>).</summary>
    public RedisKey FenceKey { get; } = RedisKeys.BatchFence(keys.StreamPrefix(groupId), keys.NodeId);

    public string ChannelName { get; } = (string)keys.GroupChannel(groupId)!;

    /// <summary>Messages waiting, in call order.</summary>
    public System.Collections.Generic.List<PendingPublish>? Waiting;

    /// <summary>Whether a flush loop is running for this group (at most one; it holds the group's next batch while it resolves a lost reply).</summary>
    public bool Flushing;

    /// <summary>Set when the sweep removed this queue: a publisher that finds it set takes a fresh one.</summary>
    public bool Dropped;

    /// <summary>When a message was last queued or a flush ended (<see cref="System.TimeProvider.GetTimestamp"/>).</summary>
    public long LastUsed = now;
}
