using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using Microsoft.Extensions.Logging;

namespace GroupRelay.Core.Tests.Infrastructure;

/// <summary>Records every log line (event id, level, text, exception) of a test host: <c>services.AddSingleton&lt;ILoggerProvider&gt;(recorder)</c>.</summary>
internal sealed class LogRecorder : ILoggerProvider
{
    private readonly ConcurrentQueue<(int EventId, LogLevel Level, string Text, Exception? Exception)> _lines = new();

    public IReadOnlyList<(int EventId, LogLevel Level, string Text, Exception? Exception)> Lines => _lines.ToList();

    public IEnumerable<string> WithEventId(int eventId) => _lines.Where(l => l.EventId == eventId).Select(l => l.Text);

    public ILogger CreateLogger(string categoryName) => new Logger(this);

    public void Dispose()
    {
    }

    private sealed class Logger(LogRecorder owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            => owner._lines.Enqueue((eventId.Id, logLevel, formatter(state, exception), exception));
    }
}
