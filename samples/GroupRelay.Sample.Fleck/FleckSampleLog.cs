using Microsoft.Extensions.Logging;

namespace GroupRelay.Sample;

/// <summary>The Fleck sample's log lines. None of them ever holds a token.</summary>
internal static partial class FleckSampleLog
{
    [LoggerMessage(EventId = 9101, Level = LogLevel.Information, Message = "GroupRelay Fleck sample relay is listening on {Url} (database {Database}). Press Ctrl+C to stop.")]
    public static partial void Ready(ILogger logger, string url, string database);

    [LoggerMessage(EventId = 9102, Level = LogLevel.Information, Message = "Wrote a token for each of the {Count} users to {File} (valid for {Lifetime}).")]
    public static partial void TokensWritten(ILogger logger, int count, string file, System.TimeSpan lifetime);

    [LoggerMessage(EventId = 9103, Level = LogLevel.Information, Message = "Stopping: closing every connection (1001).")]
    public static partial void Stopping(ILogger logger);

    [LoggerMessage(EventId = 9104, Level = LogLevel.Debug, Message = "Connection refused: no valid token.")]
    public static partial void Refused(ILogger logger);

    [LoggerMessage(EventId = 9105, Level = LogLevel.Warning, Message = "Fleck: {Message}")]
    public static partial void FleckWarning(ILogger logger, string message, System.Exception? exception);

    [LoggerMessage(EventId = 9106, Level = LogLevel.Error, Message = "Fleck: {Message}")]
    public static partial void FleckError(ILogger logger, string message, System.Exception? exception);

    [LoggerMessage(EventId = 9107, Level = LogLevel.Information, Message = "The JavaScript client is served at {Url} (and its types beside it).")]
    public static partial void ClientScriptServed(ILogger logger, System.Uri url);

    [LoggerMessage(EventId = 9108, Level = LogLevel.Debug, Message = "A request for the JavaScript client failed: {Reason}")]
    public static partial void ClientScriptRequestFailed(ILogger logger, string reason);
}
