using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using FluentAssertions;
using GroupRelay.Core.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Xunit;

namespace GroupRelay.Core.Tests;

/// <summary>
/// Issue 11 #3: host code with a timeout (the membership source at connect, the presence policy on <c>watch</c>) is
/// not waited for past its timeout, whether it ignores its token or blocks its thread; its late result is discarded
/// and logged.
/// </summary>
public sealed class HostCallTimeoutTests
{
    private static readonly TimeSpan ShortTimeout = TimeSpan.FromMilliseconds(200);

    public enum Misbehaviour
    {
        IgnoresItsToken,
        BlocksItsThread,
    }

    /// <summary>Host code that holds its caller until <see cref="Release"/>, in one of two uncooperative ways.</summary>
    private sealed class Uncooperative : IDisposable
    {
        private readonly Misbehaviour _how;
        private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly ManualResetEventSlim _releasedEvent = new();

        public Uncooperative(Misbehaviour how) => _how = how;

        public int Calls;

        public void Release()
        {
            _released.TrySetResult();
            _releasedEvent.Set();
        }

        public ValueTask<T> HoldAsync<T>(Func<T> result)
        {
            Interlocked.Increment(ref Calls);
            if (_how == Misbehaviour.BlocksItsThread)
            {
                // A synchronous driver behind an async signature (bounded, so a broken test cannot hang the run).
                _releasedEvent.Wait(TimeSpan.FromSeconds(30));
                return new ValueTask<T>(result());
            }

            return new ValueTask<T>(WaitThenAsync(result));
        }

        public void Dispose()
        {
            Release();
            _releasedEvent.Dispose();
        }

        private async Task<T> WaitThenAsync<T>(Func<T> result)
        {
            await _released.Task.WaitAsync(TimeSpan.FromSeconds(30)); // never the token it was given
            return result();
        }
    }

    private sealed class UncooperativeMembership(Uncooperative hold, string user, bool fail = false) : IMembershipSource
    {
        public ValueTask<IReadOnlyCollection<string>> GetGroupsAsync(string userId, CancellationToken cancellationToken = default)
            => userId == user
                ? hold.HoldAsync<IReadOnlyCollection<string>>(() => fail ? throw new InvalidOperationException("late failure") : new[] { "team" })
                : new ValueTask<IReadOnlyCollection<string>>(new[] { "team" });

        public ValueTask<IReadOnlyCollection<string>> GetContactsAsync(string userId, CancellationToken cancellationToken = default)
            => new(Array.Empty<string>());
    }

    private sealed class UncooperativePolicy(Uncooperative hold) : IPresencePolicy
    {
        public ValueTask<IReadOnlySet<string>> GetAllowedAsync(string watcherUserId, IReadOnlyCollection<string> targetUserIds, CancellationToken cancellationToken = default)
            => hold.HoldAsync<IReadOnlySet<string>>(() => targetUserIds.ToHashSet());
    }

    [Theory]
    [InlineData(Misbehaviour.IgnoresItsToken)]
    [InlineData(Misbehaviour.BlocksItsThread)]
    public async Task Accept_MembershipSourcePastTheTimeout_ClosedWith1011_AndTheLateResultIsDiscardedAndLogged(Misbehaviour how)
    {
        using var hold = new Uncooperative(how);
        var logs = new LogRecorder();
        await using RelayTestHost host = RelayTestHost.Create(o => o.MembershipTimeout = ShortTimeout, new UncooperativeMembership(hold, "slow"), s => s.AddSingleton<ILoggerProvider>(logs));
        TestConnection alice = await host.ConnectAsync("alice");

        TestConnection slow = await host.ConnectAsync("slow", waitForWelcome: false);

        (await slow.Socket.WaitForCloseAsync()).Should().Be(RelayCloseCodes.InternalError);
        logs.WithEventId(4).Should().ContainSingle().Which.Should().Contain("slow");
        hold.Release();
        await WaitUntilAsync(() => logs.WithEventId(18).Any(), "the late result is logged");
        logs.WithEventId(18).Should().ContainSingle().Which.Should().Contain("membership source").And.Contain("slow");
        slow.Socket.Frames.Should().BeEmpty("the late result never makes a welcome");
        (await host.Relay.GetPresenceAsync("slow").AsTask().WaitAsync(TestTimeouts.Default)).IsOnline.Should().BeFalse();
        await alice.SyncAsync();
        alice.Socket.Parsed.Select(f => f.GetProperty("type").GetString()).Should().NotContain("joined");
    }

    [Fact]
    public async Task Accept_MembershipSourceFailsPastTheTimeout_TheLateFailureIsLogged()
    {
        using var hold = new Uncooperative(Misbehaviour.IgnoresItsToken);
        var logs = new LogRecorder();
        await using RelayTestHost host = RelayTestHost.Create(o => o.MembershipTimeout = ShortTimeout, new UncooperativeMembership(hold, "slow", fail: true), s => s.AddSingleton<ILoggerProvider>(logs));

        TestConnection slow = await host.ConnectAsync("slow", waitForWelcome: false);
        (await slow.Socket.WaitForCloseAsync()).Should().Be(RelayCloseCodes.InternalError);
        hold.Release();

        await WaitUntilAsync(() => logs.WithEventId(19).Any(), "the late failure is logged");
        logs.Lines.Single(l => l.EventId == 19).Exception.Should().BeOfType<InvalidOperationException>();
    }

    [Fact]
    public async Task Accept_BlockingMembershipSource_DoesNotBlockTheCallersThread()
    {
        using var hold = new Uncooperative(Misbehaviour.BlocksItsThread);
        await using RelayTestHost host = RelayTestHost.Create(o => o.MembershipTimeout = TimeSpan.FromSeconds(30), new UncooperativeMembership(hold, "slow"));
        var socket = new FakeRelaySocket();

        // Were the source called on this thread, this call would return only when the source stopped blocking.
        Task<GroupRelay.Transports.RelaySession> accepting = host.Handler.AcceptAsync("slow", socket);

        accepting.IsCompleted.Should().BeFalse("the source still blocks, on a thread that is not the caller's");
        await WaitUntilAsync(() => Volatile.Read(ref hold.Calls) == 1, "the source is called");
        hold.Release();
        await using GroupRelay.Transports.RelaySession session = await accepting.WaitAsync(TestTimeouts.Default);
        await socket.WaitForFrameAsync("welcome");
    }

    [Theory]
    [InlineData(Misbehaviour.IgnoresItsToken)]
    [InlineData(Misbehaviour.BlocksItsThread)]
    public async Task Watch_PresencePolicyPastTheTimeout_InternalErrorAtTheTimeout_ConnectionStaysOpen(Misbehaviour how)
    {
        using var hold = new Uncooperative(how);
        var logs = new LogRecorder();
        await using RelayTestHost host = RelayTestHost.Create(
            o => o.PresencePolicyTimeout = ShortTimeout,
            services: s =>
            {
                s.Replace(ServiceDescriptor.Singleton<IPresencePolicy>(new UncooperativePolicy(hold)));
                s.AddSingleton<ILoggerProvider>(logs);
            });
        TestConnection alice = await host.ConnectAsync("alice");

        JsonElement error = await alice.RequestAsync("""{"type":"watch","id":"w","users":["bob"]}""", "w");

        Json.Str(error, "code").Should().Be("internal");
        logs.WithEventId(17).Should().ContainSingle().Which.Should().Contain("alice");
        JsonElement pong = await alice.RequestAsync("""{"type":"ping","id":"p"}""", "p");
        Json.Str(pong, "type").Should().Be("pong");
        alice.Session.IsClosing.Should().BeFalse();

        hold.Release();
        await WaitUntilAsync(() => logs.WithEventId(18).Any(), "the late answer is logged");
        logs.WithEventId(18).Single().Should().Contain("presence policy");
        await alice.SyncAsync();
        alice.Socket.Parsed.Count(f => f.GetProperty("type").GetString() == "presence").Should().Be(0, "the late answer is discarded, not sent");
    }

    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        DateTime deadline = DateTime.UtcNow + TestTimeouts.Default;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Timed out waiting until {what}.");
            }

            await Task.Delay(20);
        }
    }
}
