using Microsoft.Extensions.Logging;

namespace GroupRelay.Sample;

/// <summary>The sample host's log lines. None of them ever holds a token.</summary>
internal static partial class SampleLog
{
    [LoggerMessage(EventId = 9001, Level = LogLevel.Information, Message = "GroupRelay sample chat is running: open {Url} in a browser (database {Database}). Press Ctrl+C to stop.")]
    public static partial void Ready(ILogger logger, string url, string database);

    [LoggerMessage(EventId = 9004, Level = LogLevel.Information, Message = "Demo login (no password) as {User}: token issued.")]
    public static partial void DemoLogin(ILogger logger, string user);

    [LoggerMessage(EventId = 9005, Level = LogLevel.Information, Message = "Demo login refused: no user {User} in the database.")]
    public static partial void LoginUnknownUser(ILogger logger, string user);
}
