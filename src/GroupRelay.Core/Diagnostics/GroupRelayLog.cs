using System;
using Microsoft.Extensions.Logging;

namespace GroupRelay.Internal;

/// <summary>Every log line of GroupRelay.Core. Event ids are stable; tokens and message bodies are never logged.</summary>
internal static partial class GroupRelayLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Debug, Message = "Connection {ConnectionId} opened for user {UserId} in {GroupCount} groups.")]
    public static partial void ConnectionOpened(ILogger logger, string connectionId, string userId, int groupCount);

    [LoggerMessage(EventId = 2, Level = LogLevel.Debug, Message = "Connection {ConnectionId} of user {UserId} closed with code {CloseCode} ({Reason}).")]
    public static partial void ConnectionClosed(ILogger logger, string connectionId, string userId, int closeCode, string reason);

    [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "The membership source failed for user {UserId}; connection {ConnectionId} is closed with 1011.")]
    public static partial void MembershipFailed(ILogger logger, string userId, string connectionId, Exception exception);

    [LoggerMessage(EventId = 4, Level = LogLevel.Warning, Message = "The membership source did not answer for user {UserId} within {Timeout}; connection {ConnectionId} is closed with 1011.")]
    public static partial void MembershipTimedOut(ILogger logger, string userId, TimeSpan timeout, string connectionId);

    [LoggerMessage(EventId = 5, Level = LogLevel.Warning, Message = "Connection {ConnectionId} of user {UserId} is a slow consumer (queue over {MaxQueueBytes} bytes or {MaxQueueFrames} frames); closing with 4001.")]
    public static partial void SlowConsumer(ILogger logger, string connectionId, string userId, int maxQueueBytes, int maxQueueFrames);

    [LoggerMessage(EventId = 6, Level = LogLevel.Warning, Message = "Connection {ConnectionId} of user {UserId} kept exceeding its rate limit; closing with 4008.")]
    public static partial void Flooding(ILogger logger, string connectionId, string userId);

    [LoggerMessage(EventId = 7, Level = LogLevel.Information, Message = "Connection {ConnectionId} of user {UserId} sent a frame over {MaxFrameBytes} bytes; closing with 1009.")]
    public static partial void FrameTooLarge(ILogger logger, string connectionId, string userId, int maxFrameBytes);

    [LoggerMessage(EventId = 8, Level = LogLevel.Error, Message = "Request {RequestType} on connection {ConnectionId} failed; the client got an 'internal' error.")]
    public static partial void RequestFailed(ILogger logger, string requestType, string connectionId, Exception exception);

    [LoggerMessage(EventId = 9, Level = LogLevel.Debug, Message = "The writer of connection {ConnectionId} stopped: {Reason}.")]
    public static partial void WriterStopped(ILogger logger, string connectionId, string reason);

    [LoggerMessage(EventId = 15, Level = LogLevel.Debug, Message = "The socket of connection {ConnectionId} failed while sending; it was aborted.")]
    public static partial void WriterFailed(ILogger logger, string connectionId, Exception exception);

    [LoggerMessage(EventId = 16, Level = LogLevel.Debug, Message = "Connection {ConnectionId} of user {UserId} went away while its groups were loading.")]
    public static partial void HandshakeAbandoned(ILogger logger, string connectionId, string userId);

    [LoggerMessage(EventId = 10, Level = LogLevel.Warning, Message = "Connection {ConnectionId} did not finish closing within {Timeout}; its socket was aborted.")]
    public static partial void CloseTimedOut(ILogger logger, string connectionId, TimeSpan timeout);

    [LoggerMessage(EventId = 11, Level = LogLevel.Information, Message = "Shutting down: closing {Count} connections with 1001.")]
    public static partial void ShuttingDown(ILogger logger, int count);

    [LoggerMessage(EventId = 12, Level = LogLevel.Error, Message = "Unregistering connection {ConnectionId} of user {UserId} failed.")]
    public static partial void UnregisterFailed(ILogger logger, string connectionId, string userId, Exception exception);

    [LoggerMessage(EventId = 13, Level = LogLevel.Warning, Message = "The user id given by the host for connection {ConnectionId} is empty or longer than {MaxIdLength} characters; closing with 1011.")]
    public static partial void InvalidUserId(ILogger logger, string connectionId, int maxIdLength);

    [LoggerMessage(EventId = 14, Level = LogLevel.Error, Message = "A presence or membership event for user {UserId} could not be delivered.")]
    public static partial void EventFailed(ILogger logger, string userId, Exception exception);

    [LoggerMessage(EventId = 17, Level = LogLevel.Warning, Message = "The presence policy did not answer for user {UserId} within {Timeout}; the watch on connection {ConnectionId} was answered with 'internal'.")]
    public static partial void PresencePolicyTimedOut(ILogger logger, string userId, TimeSpan timeout, string connectionId);

    [LoggerMessage(EventId = 18, Level = LogLevel.Warning, Message = "The {Callee} answered for user {UserId} after {Elapsed}, past its timeout of {Timeout}; {Outcome} was discarded.")]
    public static partial void HostCallLate(ILogger logger, string callee, string userId, TimeSpan elapsed, TimeSpan timeout, string outcome);

    [LoggerMessage(EventId = 19, Level = LogLevel.Warning, Message = "The {Callee} failed for user {UserId} after {Elapsed}, past its timeout of {Timeout}; the failure was discarded.")]
    public static partial void HostCallLateFailed(ILogger logger, string callee, string userId, TimeSpan elapsed, TimeSpan timeout, Exception exception);

    [LoggerMessage(EventId = 20, Level = LogLevel.Information, Message = "Connection {ConnectionId} of user {UserId} did not answer a keep-alive ping within {Interval} + {Timeout}; it was dropped as dead.")]
    public static partial void KeepAliveTimedOut(ILogger logger, string connectionId, string userId, TimeSpan interval, TimeSpan timeout);

    [LoggerMessage(EventId = 21, Level = LogLevel.Error, Message = "A message filter failed on a send of user {UserId} (connection {ConnectionId}) to group {GroupId}; the sender got 'internal' and nothing was delivered.")]
    public static partial void MessageFilterFailed(ILogger logger, string userId, string connectionId, string groupId, Exception exception);

    [LoggerMessage(EventId = 22, Level = LogLevel.Error, Message = "The message observer {Observer} failed on message {Seq} of group {GroupId}; the next message is observed as usual.")]
    public static partial void MessageObserverFailed(ILogger logger, string observer, long seq, string groupId, Exception exception);

    [LoggerMessage(EventId = 23, Level = LogLevel.Warning, Message = "The message observers' queue is full (MessageObserverQueueCapacity = {Capacity}); {Dropped} accepted messages were delivered but not observed since the last such line. The observers are slower than the traffic.")]
    public static partial void MessageObserverQueueFull(ILogger logger, int capacity, long dropped);

    [LoggerMessage(EventId = 24, Level = LogLevel.Error, Message = "The membership source returned {Count} groups for user {UserId}, more than MaxGroupsPerUser ({Limit}); connection {ConnectionId} is closed with 1011.")]
    public static partial void TooManyGroups(ILogger logger, string userId, int count, int limit, string connectionId);

    [LoggerMessage(EventId = 25, Level = LogLevel.Information, Message = "The membership source does not know user {UserId}; connection {ConnectionId} is refused as unauthorized (4003, or 401 before the upgrade).")]
    public static partial void UnknownUser(ILogger logger, string userId, string connectionId);

    [LoggerMessage(EventId = 26, Level = LogLevel.Warning, Message = "A connection of user {UserId} was refused: {Reason}.")]
    public static partial void ConnectionLimit(ILogger logger, string userId, string reason);
}
