using System;
using Microsoft.Extensions.Logging;

namespace GroupRelay.Internal;

/// <summary>Every log line of GroupRelay.Redis (event ids 300-399). Message bodies are never logged.</summary>
/// <remarks>Thread-safe: stateless.</remarks>
internal static partial class RedisRelayLog
{
    [LoggerMessage(EventId = 300, Level = LogLevel.Information, Message = "Redis scale-out node {NodeId} starting (prefix '{Prefix}', node timeout {NodeTimeout}).")]
    public static partial void Starting(ILogger logger, string nodeId, string prefix, TimeSpan nodeTimeout);

    [LoggerMessage(EventId = 301, Level = LogLevel.Warning, Message = "Redis connection lost ({FailureType}) on node {NodeId}: cross-node delivery is paused, local delivery goes on; reconnecting.")]
    public static partial void ConnectionLost(ILogger logger, string nodeId, string failureType, Exception? exception);

    [LoggerMessage(EventId = 302, Level = LogLevel.Information, Message = "Redis connection restored on node {NodeId}: resynchronising this node's state.")]
    public static partial void ConnectionRestored(ILogger logger, string nodeId);

    [LoggerMessage(EventId = 303, Level = LogLevel.Information, Message = "Node {NodeId} wrote its state to Redis again ({Users} users, {Groups} groups).")]
    public static partial void Resynchronised(ILogger logger, string nodeId, int users, int groups);

    [LoggerMessage(EventId = 304, Level = LogLevel.Warning, Message = "Node {DeadNodeId} stopped sending heartbeats; node {NodeId} removed its {Users} online users.")]
    public static partial void NodeReaped(ILogger logger, string deadNodeId, string nodeId, int users);

    [LoggerMessage(EventId = 305, Level = LogLevel.Debug, Message = "Redis operation {Operation} failed; using this node's local state.")]
    public static partial void OperationFailed(ILogger logger, string operation, Exception exception);

    [LoggerMessage(EventId = 306, Level = LogLevel.Warning, Message = "A message of group with seq {Seq} arrived after seq {LastSeq} (Redis lost its counter?); dropped to keep seq increasing.")]
    public static partial void OutOfOrderDropped(ILogger logger, long seq, long lastSeq);

    [LoggerMessage(EventId = 307, Level = LogLevel.Error, Message = "A message from the Redis backplane could not be handled.")]
    public static partial void ReceiveFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 308, Level = LogLevel.Warning, Message = "The Redis background loop of node {NodeId} failed; it goes on.")]
    public static partial void LoopFailed(ILogger logger, string nodeId, Exception exception);

    [LoggerMessage(EventId = 309, Level = LogLevel.Information, Message = "Redis scale-out node {NodeId} stopped and removed its entries.")]
    public static partial void Stopped(ILogger logger, string nodeId);

    [LoggerMessage(EventId = 310, Level = LogLevel.Warning, Message = "Redis is unavailable: {Count} operations fell back to this node's local state since the last report.")]
    public static partial void Degraded(ILogger logger, long count);

    [LoggerMessage(EventId = 311, Level = LogLevel.Warning, Message = "A run-time membership change was acknowledged by {Acks} of {Expected} nodes within {Timeout}; returning anyway.")]
    public static partial void MembershipAckTimedOut(ILogger logger, int acks, int expected, TimeSpan timeout);

    [LoggerMessage(EventId = 312, Level = LogLevel.Debug, Message = "A group's stream moved from epoch {PreviousEpoch} to {Epoch} (its numbering restarted); sent reset to {Connections} connections here.")]
    public static partial void StreamReset(ILogger logger, string previousEpoch, string epoch, int connections);

    [LoggerMessage(EventId = 313, Level = LogLevel.Debug, Message = "Catching up a group's stream after seq {After} (up to {UpTo}): a seq gap on its channel, or the subscription came back.")]
    public static partial void CatchingUp(ILogger logger, long after, long upTo);

    [LoggerMessage(EventId = 314, Level = LogLevel.Warning, Message = "A group's messages {From} to {To} were missed on its channel and are not in its stream (trimmed, expired, or Redis unreachable); clients see the gap and ask history.")]
    public static partial void CatchUpMissing(ILogger logger, long from, long to);

    [LoggerMessage(EventId = 315, Level = LogLevel.Debug, Message = "A publish batch of {Count} messages lost its reply; Redis says it {Outcome}.")]
    public static partial void PublishResolved(ILogger logger, int count, string outcome);

    [LoggerMessage(EventId = 316, Level = LogLevel.Warning, Message = "A publish batch of {Count} messages lost its reply and Redis could not be asked within {Window}: its senders got 'unavailable' saying it may have been delivered.")]
    public static partial void PublishOutcomeUnknown(ILogger logger, int count, TimeSpan window);
}
