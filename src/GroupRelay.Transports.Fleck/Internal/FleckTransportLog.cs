using System;
using Microsoft.Extensions.Logging;

namespace GroupRelay.Transports.Fleck.Internal;

/// <summary>
/// Log lines of the Fleck transport (event ids 200-299). Tokens are never logged: a path is logged without its query.
/// Fleck's own messages go to <c>Fleck.FleckLog</c>, which the host configures (it writes to the console by default).
/// </summary>
internal static partial class FleckTransportLog
{
    [LoggerMessage(EventId = 200, Level = LogLevel.Information, Message = "GroupRelay Fleck server listening on {Location} (port {Port}).")]
    public static partial void Started(ILogger logger, string location, int port);

    [LoggerMessage(EventId = 201, Level = LogLevel.Information, Message = "GroupRelay Fleck server on {Location} is stopping: closing its connections with 1001.")]
    public static partial void Stopping(ILogger logger, string location);

    [LoggerMessage(EventId = 202, Level = LogLevel.Information, Message = "Refused a connection from {ClientAddress} on {Path}: the authenticator returned no user; closed with 4003.")]
    public static partial void Unauthorized(ILogger logger, string? clientAddress, string path);

    [LoggerMessage(EventId = 203, Level = LogLevel.Error, Message = "The authenticator failed for a connection from {ClientAddress} on {Path}; closed with 1011.")]
    public static partial void AuthenticatorFailed(ILogger logger, string? clientAddress, string path, Exception exception);

    [LoggerMessage(EventId = 204, Level = LogLevel.Information, Message = "Refused a connection from {ClientAddress}: WebSocket version {Version} is not supported (RFC 6455 only).")]
    public static partial void UnsupportedVersion(ILogger logger, string? clientAddress, string? version);

    [LoggerMessage(EventId = 205, Level = LogLevel.Debug, Message = "Refused a connection from {ClientAddress}: the server is stopping; closed with 1001.")]
    public static partial void RefusedWhileStopping(ILogger logger, string? clientAddress);

    [LoggerMessage(EventId = 206, Level = LogLevel.Debug, Message = "Fleck reported an error on connection {ConnectionId}; the connection ends.")]
    public static partial void SocketError(ILogger logger, string connectionId, Exception exception);

    [LoggerMessage(EventId = 207, Level = LogLevel.Debug, Message = "Connection {ConnectionId} ended ({Reason}); its session is disposed.")]
    public static partial void SessionEnded(ILogger logger, string connectionId, string reason);

    [LoggerMessage(EventId = 208, Level = LogLevel.Warning, Message = "Connection {ConnectionId} sent frames faster than they could be handled (more than {MaxPendingBytes} bytes waiting); closing with 4008.")]
    public static partial void ReceiveBacklogExceeded(ILogger logger, string connectionId, long maxPendingBytes);

    [LoggerMessage(EventId = 209, Level = LogLevel.Error, Message = "The receive loop of connection {ConnectionId} failed; the connection is aborted.")]
    public static partial void ReceiveLoopFailed(ILogger logger, string connectionId, Exception exception);

    [LoggerMessage(EventId = 210, Level = LogLevel.Warning, Message = "{Count} connections of the Fleck server on {Location} did not end within the close timeout; their sockets were closed.")]
    public static partial void StopTimedOut(ILogger logger, int count, string location);

    [LoggerMessage(EventId = 211, Level = LogLevel.Information, Message = "Connection {ConnectionId} broke the WebSocket protocol: {Violation}; failed with close code {CloseCode}.")]
    public static partial void ProtocolViolation(ILogger logger, string connectionId, int closeCode, string violation);

    [LoggerMessage(EventId = 212, Level = LogLevel.Debug, Message = "Connection {ConnectionId} sent nothing for {Silent} (no pong to the keep-alive pings: KeepAliveInterval {Interval} + KeepAliveTimeout {Timeout}); its TCP connection was closed without a close frame.")]
    public static partial void KeepAliveTimedOut(ILogger logger, string connectionId, TimeSpan silent, TimeSpan interval, TimeSpan timeout);

    [LoggerMessage(EventId = 213, Level = LogLevel.Warning, Message = "A connection from {Address} with origin {Origin} was closed with 4003: the origin is not in AllowedOrigins.")]
    public static partial void OriginRefused(ILogger logger, string address, string origin);
}
