using System;
using Microsoft.Extensions.Logging;

namespace GroupRelay.Transports.AspNetCore.Internal;

/// <summary>Log lines of the ASP.NET Core transport (event ids 100-199). Tokens are never logged.</summary>
internal static partial class TransportLog
{
    [LoggerMessage(EventId = 100, Level = LogLevel.Information, Message = "Refused an anonymous request (WebSocket upgrade or plain GET) on {Path} with 401.")]
    public static partial void Anonymous(ILogger logger, Microsoft.AspNetCore.Http.PathString path);

    [LoggerMessage(EventId = 101, Level = LogLevel.Warning, Message = "The authenticated user on {Path} has no '{ClaimType}' claim to use as user id; refused with 401.")]
    public static partial void NoUserIdClaim(ILogger logger, Microsoft.AspNetCore.Http.PathString path, string claimType);

    [LoggerMessage(EventId = 102, Level = LogLevel.Debug, Message = "The receive loop of connection {ConnectionId} ended: {Reason}.")]
    public static partial void ReceiveEnded(ILogger logger, string connectionId, string reason);

    [LoggerMessage(EventId = 103, Level = LogLevel.Debug, Message = "Connection {ConnectionId} broke the WebSocket protocol and was failed with a close frame; {Discarded} bytes it sent after were discarded until {End}.")]
    public static partial void LingeredAfterViolation(ILogger logger, string connectionId, long discarded, string end);

    [LoggerMessage(EventId = 104, Level = LogLevel.Warning, Message = "A connection of user {UserId} on {Path} was refused with 429: {Reason}.")]
    public static partial void ConnectionLimit(ILogger logger, string userId, string path, string reason);

    [LoggerMessage(EventId = 105, Level = LogLevel.Warning, Message = "A request on {Path} from origin {Origin} was refused with 403: the origin is not in AllowedOrigins.")]
    public static partial void OriginRefused(ILogger logger, string path, string origin);
}
