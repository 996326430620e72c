using System;
using Microsoft.Extensions.Logging;

namespace GroupRelay.Client.Internal;

/// <summary>Every log line of GroupRelay.Client. Event ids are stable; URLs are logged without their query, and tokens and message bodies never.</summary>
internal static partial class ClientLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Debug, Message = "Connecting to {Url}.")]
    public static partial void Connecting(ILogger logger, string url);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Connected to {Url} as {User} (connection {ConnectionId}, {GroupCount} groups).")]
    public static partial void Connected(ILogger logger, string url, string user, string connectionId, int groupCount);

    [LoggerMessage(EventId = 3, Level = LogLevel.Information, Message = "Connecting to {Url} failed.")]
    public static partial void ConnectFailed(ILogger logger, string url, Exception exception);

    [LoggerMessage(EventId = 4, Level = LogLevel.Information, Message = "The connection to {Url} dropped.")]
    public static partial void ConnectionLost(ILogger logger, string url, Exception? exception);

    [LoggerMessage(EventId = 5, Level = LogLevel.Debug, Message = "Reconnect attempt {Attempt} in {Delay}.")]
    public static partial void Reconnecting(ILogger logger, long attempt, TimeSpan delay);

    [LoggerMessage(EventId = 6, Level = LogLevel.Warning, Message = "The reconnect policy gave up after {Attempts} attempts; the client is disconnected.")]
    public static partial void GaveUp(ILogger logger, long attempts);

    [LoggerMessage(EventId = 7, Level = LogLevel.Warning, Message = "The server at {Url} refused the client's identity (HTTP {HttpStatus}, close code {CloseCode}); the client stops until StartAsync is called with a fresh token.")]
    public static partial void Unauthorized(ILogger logger, string url, int? httpStatus, int? closeCode);

    [LoggerMessage(EventId = 8, Level = LogLevel.Debug, Message = "Group {Group}: catching up after seq {After} of epoch {Epoch}.")]
    public static partial void CatchingUp(ILogger logger, string group, long after, string epoch);

    [LoggerMessage(EventId = 9, Level = LogLevel.Warning, Message = "Group {Group}: messages from seq {FirstMissing} of epoch {Epoch} could not be recovered ({Reason}).")]
    public static partial void Unrecovered(ILogger logger, string group, long firstMissing, string epoch, string reason);

    [LoggerMessage(EventId = 10, Level = LogLevel.Information, Message = "Group {Group}: the stream was reset to epoch {Epoch}.")]
    public static partial void StreamReset(ILogger logger, string group, string epoch);

    [LoggerMessage(EventId = 11, Level = LogLevel.Warning, Message = "The server sent an error without a request id: {Code}: {ErrorMessage}")]
    public static partial void ServerError(ILogger logger, string code, string errorMessage);

    [LoggerMessage(EventId = 12, Level = LogLevel.Error, Message = "A handler of the {EventName} event threw; the client goes on.")]
    public static partial void HandlerFailed(ILogger logger, string eventName, Exception exception);

    [LoggerMessage(EventId = 13, Level = LogLevel.Debug, Message = "Sending {Count} unacknowledged or queued sends again on the new connection.")]
    public static partial void Resending(ILogger logger, int count);

    [LoggerMessage(EventId = 14, Level = LogLevel.Warning, Message = "A frame from the server could not be read; it was skipped.")]
    public static partial void BadFrame(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 15, Level = LogLevel.Warning, Message = "Nothing arrived from the server for {Timeout}; the connection is taken for dead.")]
    public static partial void ServerTimedOut(ILogger logger, TimeSpan timeout);

    [LoggerMessage(EventId = 16, Level = LogLevel.Warning, Message = "Group {Group}: catching up failed with {Code}; the group goes on live.")]
    public static partial void CatchUpFailed(ILogger logger, string group, string code);

    [LoggerMessage(EventId = 17, Level = LogLevel.Error, Message = "The connection loop failed; the client is disconnected.")]
    public static partial void LoopFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 18, Level = LogLevel.Warning, Message = "The reconnect policy threw; the client gives up.")]
    public static partial void PolicyFailed(ILogger logger, Exception exception);
}
