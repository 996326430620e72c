using System;
using System.Collections.Generic;
using System.Threading.Tasks;
using FluentAssertions;
using GroupRelay.Internal;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;
using Xunit;

namespace GroupRelay.Redis.Tests;

/// <summary>"Call Redis; on failure count a fallback, log, and mark a resync due" is one piece, tested once here.</summary>
public sealed class RedisGuardTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private readonly CapturingLogger _logger = new();
    private readonly RedisRelayMetrics _metrics = new(meterFactory: null);
    private RedisServer? _redis;
    private RedisConnection _connection = null!;
    private RedisGuard _guard = null!;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _connection.CloseAsync().WaitAsync(Timeout);
        _connection.Dispose();
        _metrics.Dispose();
        if (_redis is not null)
        {
            await _redis.DisposeAsync();
        }
    }

    private async Task CreateAsync(bool connect)
    {
        var options = new RedisRelayOptions { CommandTimeoutMilliseconds = 1000 };
        if (connect)
        {
            _redis = await RedisServer.StartAsync().WaitAsync(Timeout);
            options.Configuration = ConfigurationOptions.Parse(_redis.Endpoint);
        }

        _connection = new RedisConnection(options, new RedisKeys("guard-test", "node", TimeSpan.FromMinutes(15)), _metrics, _logger);
        if (connect)
        {
            await _connection.ConnectAsync().WaitAsync(Timeout);
            _connection.IsConnected.Should().BeTrue();
        }

        _connection.ResyncStarted();
        _guard = new RedisGuard(_connection, _metrics, _logger);
    }

    [Fact]
    public async Task Success_ReturnsTheValue_AndCountsNothing()
    {
        await CreateAsync(connect: true);

        (bool ok, RedisResult value) = await _guard.TryAsync("echo", "hi", static (mux, s) => mux.GetDatabase().ExecuteAsync("ECHO", s)).AsTask().WaitAsync(Timeout);

        ok.Should().BeTrue();
        ((string?)value).Should().Be("hi");
        _connection.ResyncDue.Should().BeFalse();
        _guard.ReportDegraded();
        _logger.EventIds.Should().BeEmpty();
    }

    [Fact]
    public async Task ARedisFailure_IsNotOk_LogsIt_MarksAResync_AndIsReportedOnce()
    {
        await CreateAsync(connect: true);

        (bool ok, RedisResult _) = await _guard.TryAsync("broken", 0, static (mux, _) => mux.GetDatabase().ScriptEvaluateAsync("return redis.call('NOSUCHCOMMAND')")).AsTask().WaitAsync(Timeout);
        (bool okRead, RedisResult _) = await _guard.TryWhenConnectedAsync("broken_read", 0, static (mux, _) => mux.GetDatabase().ExecuteAsync("NOSUCHCOMMAND")).AsTask().WaitAsync(Timeout);

        ok.Should().BeFalse();
        okRead.Should().BeFalse();
        _connection.ResyncDue.Should().BeTrue("what this node changed meanwhile must be written again");
        _logger.EventIds.Should().Equal(305, 305);
        _guard.ReportDegraded();
        _guard.ReportDegraded();
        _logger.EventIds.Should().Equal(305, 305, 310);
    }

    [Fact]
    public async Task AFailureThatIsNotRedis_ReachesTheCaller()
    {
        await CreateAsync(connect: true);

        Func<Task> bug = async () => await _guard.TryAsync<int, int>("bug", 0, static (_, _) => throw new ArgumentOutOfRangeException("bug"));

        await bug.Should().ThrowAsync<ArgumentOutOfRangeException>().WaitAsync(Timeout);
        _connection.ResyncDue.Should().BeFalse();
    }

    [Fact]
    public async Task Disconnected_AChangeIsAFallback_AndMarksAResync_ButAQuestionIsQuiet()
    {
        await CreateAsync(connect: false);
        bool called = false;

        (bool okQuestion, int _) = await _guard.TryWhenConnectedAsync("question", 0, (_, _) => { called = true; return Task.FromResult(1); }).AsTask().WaitAsync(Timeout);
        _connection.ResyncDue.Should().BeFalse("a question changes nothing to write again");
        _guard.ReportDegraded();
        _logger.EventIds.Should().BeEmpty();

        (bool okChange, int _) = await _guard.TryAsync("change", 0, (_, _) => { called = true; return Task.FromResult(1); }).AsTask().WaitAsync(Timeout);
        bool published = _guard.TryPublish(RedisChannel.Literal("guard-test:ch"), new byte[] { 1 }, "presence");

        okQuestion.Should().BeFalse();
        okChange.Should().BeFalse();
        published.Should().BeFalse();
        called.Should().BeFalse("Redis is not called while disconnected");
        _connection.ResyncDue.Should().BeTrue();
        _guard.ReportDegraded();
        _logger.EventIds.Should().Equal(310);
    }

    [Fact]
    public async Task Crashed_AChangeIsAFallback_ButMarksNoResync()
    {
        await CreateAsync(connect: false);
        _connection.MarkCrashed();

        (bool ok, int _) = await _guard.TryAsync("change", 0, static (_, _) => Task.FromResult(1)).AsTask().WaitAsync(Timeout);

        ok.Should().BeFalse();
        _connection.ResyncDue.Should().BeFalse("a crashed node never writes again");
    }

    private sealed class CapturingLogger : ILogger
    {
        public List<int> EventIds { get; } = new();

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (EventIds)
            {
                // 300 (starting) is the connection's, not the guard's.
                if (eventId.Id != 300)
                {
                    EventIds.Add(eventId.Id);
                }
            }
        }
    }
}
