using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using System.Threading;
using System.Threading.Tasks;
using FluentAssertions;
using GroupRelay.Client.Tests.Infrastructure;
using Xunit;

namespace GroupRelay.Client.Tests;

/// <summary>The .NET client against one real Kestrel node (in memory), directly and through a loopback proxy that breaks connections.</summary>
public sealed class ClientBehaviourTests : IAsyncLifetime
{
    private static readonly TimeSpan Wait = RecordingClient.Wait;
    private readonly InMemoryMembershipSource _membership = new();
    private readonly List<IAsyncDisposable> _owned = new();
    private KestrelRelayHost _host = null!;
    private ChaosProxy _proxy = null!;

    public Task InitializeAsync() => StartHostAsync(_ => { });

    private async Task StartHostAsync(Action<GroupRelayOptions> configure)
    {
        _membership.SetGroups("alice", "team");
        _membership.SetGroups("bob", "team");
        _membership.SetGroups("carol", "team", "ops");
        _host = new KestrelRelayHost(_membership, configure: configure);
        await _host.StartAsync();
        _proxy = new ChaosProxy(() => _host.Port);
    }

    public async Task DisposeAsync()
    {
        foreach (IAsyncDisposable owned in Enumerable.Reverse(_owned))
        {
            await owned.DisposeAsync();
        }

        await _proxy.DisposeAsync();
        await _host.DisposeAsync();
    }

    private async Task<RecordingClient> ConnectAsync(string user, bool viaProxy = false, Action<GroupRelayClientOptions>? configure = null)
    {
        GroupRelayClientOptions options = RecordingClient.OptionsFor(user, viaProxy ? _proxy.UriFor(_host.RelayUri) : _host.RelayUri);
        configure?.Invoke(options);
        RecordingClient client = await RecordingClient.StartAsync(options);
        _owned.Add(client);
        return client;
    }

    [Fact]
    public async Task Send_IsAcknowledgedWithItsSeq_AndEveryMemberReadsItOnce_TheSenderToo()
    {
        RecordingClient alice = await ConnectAsync("alice");
        RecordingClient bob = await ConnectAsync("bob");
        alice.Client.State.Should().Be(RelayClientState.Connected);
        alice.Client.User.Should().Be("alice");
        alice.Client.Groups.Should().Equal("team");

        RelayAck first = await alice.Client.SendAsync("team", RecordingClient.Body(new { text = "hi" })).WaitAsync(Wait);
        RelayAck second = await alice.Client.SendAsync("team", RecordingClient.Body("again")).WaitAsync(Wait);

        first.Seq.Should().Be(1);
        first.Duplicate.Should().BeFalse();
        second.Seq.Should().Be(2);
        foreach (RecordingClient client in new[] { alice, bob })
        {
            await client.WaitForMessagesAsync("team", 2);
            IReadOnlyList<RelayMessage> messages = client.MessagesOf("team");
            messages.Select(m => m.Seq).Should().Equal(1L, 2L);
            messages[0].From.Should().Be("alice");
            messages[0].Body.GetProperty("text").GetString().Should().Be("hi");
            messages[1].Body.GetString().Should().Be("again");
            messages[0].Epoch.Should().NotBeNullOrEmpty();
        }
    }

    [Fact]
    public async Task Send_ToAGroupOfAnother_FailsWithNotMember_AndDeliversNothing()
    {
        RecordingClient alice = await ConnectAsync("alice");
        Func<Task> send = () => alice.Client.SendAsync("ops", RecordingClient.Body(1)).WaitAsync(Wait);
        (await send.Should().ThrowAsync<RelayRequestException>()).Which.Code.Should().Be("not_member");
    }

    [Fact]
    public async Task Send_WhoseAckWasLost_IsSentAgainWithItsId_AndAcknowledgedAsDuplicate_DeliveredOnce()
    {
        RecordingClient alice = await ConnectAsync("alice", viaProxy: true);
        RecordingClient bob = await ConnectAsync("bob");

        // The server gets the send and answers, but the answer never reaches alice; then her connection breaks.
        _proxy.HoldDownstream = true;
        Task<RelayAck> send = alice.Client.SendAsync("team", RecordingClient.Body("once"));
        await bob.WaitForMessagesAsync("team", 1);
        send.IsCompleted.Should().BeFalse("the ack was swallowed");
        _proxy.CutAll();
        _proxy.HoldDownstream = false;

        RelayAck ack = await send.WaitAsync(Wait);
        ack.Duplicate.Should().BeTrue("the server had ordered it already and answered with the first outcome");
        ack.Seq.Should().Be(1);
        await alice.WaitForMessagesAsync("team", 1);
        await alice.Client.SendAsync("team", RecordingClient.Body("next")).WaitAsync(Wait);
        await bob.WaitForMessagesAsync("team", 2);
        bob.MessagesOf("team").Select(m => m.Seq).Should().Equal(1L, 2L);
        alice.MessagesOf("team").Select(m => m.Seq).Should().Equal(new[] { 1L, 2L }, "alice's catch-up found her own echo once");
    }

    [Fact]
    public async Task Sends_WhileDisconnected_WaitInTheQueue_AndGoOutInOrderOnReconnect()
    {
        RecordingClient alice = await ConnectAsync("alice", viaProxy: true);
        RecordingClient bob = await ConnectAsync("bob");
        _proxy.Refusing = true;
        _proxy.CutAll();
        await alice.WaitUntilAsync(c => c.Client.State == RelayClientState.Reconnecting, "alice is reconnecting");
        Task<RelayAck>[] sends = Enumerable.Range(0, 20).Select(i => alice.Client.SendAsync("team", RecordingClient.Body(i))).ToArray();
        await Task.Delay(200);
        sends.Should().OnlyContain(s => !s.IsCompleted, "nothing is acknowledged while disconnected");

        _proxy.Refusing = false;
        RelayAck[] acks = await Task.WhenAll(sends).WaitAsync(Wait);
        acks.Select(a => a.Seq).Should().Equal(Enumerable.Range(1, 20).Select(i => (long)i), "queued sends go out in the order they were made");
        await bob.WaitForMessagesAsync("team", 20);
        bob.MessagesOf("team").Select(m => m.Body.GetInt32()).Should().Equal(Enumerable.Range(0, 20));
    }

    [Fact]
    public async Task Reconnect_ResumesThroughHistory_InPages_WithNothingLostOrRepeated()
    {
        RecordingClient alice = await ConnectAsync("alice");
        RecordingClient bob = await ConnectAsync("bob", viaProxy: true, o => o.HistoryPageSize = 7);
        await alice.Client.SendAsync("team", RecordingClient.Body(0)).WaitAsync(Wait);
        await bob.WaitForMessagesAsync("team", 1);

        _proxy.Refusing = true;
        _proxy.CutAll();
        await bob.WaitUntilAsync(c => c.Client.State == RelayClientState.Reconnecting, "bob is reconnecting");
        for (int i = 1; i <= 40; i++)
        {
            await alice.Client.SendAsync("team", RecordingClient.Body(i)).WaitAsync(Wait);
        }

        _proxy.Refusing = false;
        await bob.WaitForMessagesAsync("team", 41);
        await alice.Client.SendAsync("team", RecordingClient.Body(41)).WaitAsync(Wait);
        await bob.WaitForMessagesAsync("team", 42);
        bob.MessagesOf("team").Select(m => m.Seq).Should().Equal(Enumerable.Range(1, 42).Select(i => (long)i), "every message once, in seq order, across the drop");
        bob.Events<RelayUnrecoveredEventArgs>().Should().BeEmpty();
        bob.Client.GetPositions()["team"].Seq.Should().Be(42);
    }

    [Fact]
    public async Task Reconnect_AfterMessagesAgedOut_RaisesUnrecovered_NotRetained_FromTheFirstMissingSeq()
    {
        await _proxy.DisposeAsync();
        await _host.DisposeAsync();
        await StartHostAsync(o => o.HistoryMessagesPerGroup = 5);
        RecordingClient alice = await ConnectAsync("alice");
        RecordingClient bob = await ConnectAsync("bob", viaProxy: true);
        await alice.Client.SendAsync("team", RecordingClient.Body(1)).WaitAsync(Wait);
        await bob.WaitForMessagesAsync("team", 1);

        _proxy.Refusing = true;
        _proxy.CutAll();
        await bob.WaitUntilAsync(c => c.Client.State == RelayClientState.Reconnecting, "bob is reconnecting");
        for (int i = 2; i <= 20; i++)
        {
            await alice.Client.SendAsync("team", RecordingClient.Body(i)).WaitAsync(Wait);
        }

        _proxy.Refusing = false;
        await bob.WaitUntilAsync(c => c.MessagesOf("team") is { Count: > 0 } m && m[^1].Seq == 20, "bob caught up to seq 20");
        RelayUnrecoveredEventArgs unrecovered = bob.Events<RelayUnrecoveredEventArgs>().Should().ContainSingle().Subject;
        unrecovered.Group.Should().Be("team");
        unrecovered.Reason.Should().Be(RelayUnrecoveredReason.NotRetained);
        unrecovered.FirstMissingSeq.Should().Be(2);
        unrecovered.ResumesAt.Seq.Should().Be(16, "the last five are retained");
        bob.MessagesOf("team").Select(m => m.Seq).Should().Equal(1L, 16L, 17L, 18L, 19L, 20L);
    }

    [Fact]
    public async Task RelayRestart_NewEpoch_RaisesUnrecovered_EpochChanged_AndTheNewEpochFollows()
    {
        RecordingClient alice = await ConnectAsync("alice");
        RecordingClient bob = await ConnectAsync("bob");
        await alice.Client.SendAsync("team", RecordingClient.Body(1)).WaitAsync(Wait);
        await bob.WaitForMessagesAsync("team", 1);
        string oldEpoch = bob.MessagesOf("team")[0].Epoch;

        await _host.StopAsync();
        await bob.WaitUntilAsync(c => c.Client.State == RelayClientState.Reconnecting, "bob noticed the restart");
        await _host.StartAsync();
        await bob.WaitForStateAsync(RelayClientState.Connected);
        await alice.WaitForStateAsync(RelayClientState.Connected);
        RelayAck ack = await alice.Client.SendAsync("team", RecordingClient.Body(2)).WaitAsync(Wait);
        ack.Seq.Should().Be(1, "the new process numbers from 1 in a new epoch");

        await bob.WaitForMessagesAsync("team", 2);
        RelayUnrecoveredEventArgs unrecovered = bob.Events<RelayUnrecoveredEventArgs>().Should().ContainSingle().Subject;
        unrecovered.Reason.Should().Be(RelayUnrecoveredReason.EpochChanged);
        unrecovered.Epoch.Should().Be(oldEpoch);
        unrecovered.FirstMissingSeq.Should().Be(2);
        unrecovered.ResumesAt.Epoch.Should().NotBe(oldEpoch);
        RelayMessage after = bob.MessagesOf("team")[1];
        after.Epoch.Should().Be(unrecovered.ResumesAt.Epoch);
        after.Seq.Should().Be(1);
        bob.Events<RelayStateChangedEventArgs>().Select(s => s.State).Should().ContainInOrder(RelayClientState.Reconnecting, RelayClientState.Connected);
    }

    [Fact]
    public async Task History_ReturnsRetainedMessages_InPages_AndSaysWhenComplete()
    {
        RecordingClient alice = await ConnectAsync("alice");
        for (int i = 1; i <= 5; i++)
        {
            await alice.Client.SendAsync("team", RecordingClient.Body(i)).WaitAsync(Wait);
        }

        RelayHistoryPage first = await alice.Client.HistoryAsync("team", after: 0, limit: 3).WaitAsync(Wait);
        first.Messages.Select(m => m.Seq).Should().Equal(1L, 2L, 3L);
        first.Complete.Should().BeFalse("the limit cut the list");
        first.Position.Seq.Should().Be(5);
        RelayHistoryPage rest = await alice.Client.HistoryAsync("team", after: 3, limit: 10, epoch: first.Position.Epoch).WaitAsync(Wait);
        rest.Messages.Select(m => m.Body.GetInt32()).Should().Equal(4, 5);
        rest.Complete.Should().BeTrue();
        RelayHistoryPage stale = await alice.Client.HistoryAsync("team", after: 0, epoch: "not-the-epoch").WaitAsync(Wait);
        stale.Messages.Should().BeEmpty();
        stale.Complete.Should().BeFalse("the epoch is not the current one");

        await alice.Client.SendAsync("team", RecordingClient.Body(6)).WaitAsync(Wait);
        await alice.WaitForMessagesAsync("team", 6);
        alice.MessagesOf("team").Select(m => m.Seq).Should().Equal(new[] { 1L, 2L, 3L, 4L, 5L, 6L }, "history does not hand anything to ReadMessagesAsync again");
    }

    [Fact]
    public async Task Watch_ReportsPresence_ThenRaisesChanges_AndMembersJoinAndLeave()
    {
        RecordingClient alice = await ConnectAsync("alice");
        RelayPresenceSnapshot snapshot = await alice.Client.WatchAsync(new[] { "bob", "mallory" }).WaitAsync(Wait);
        snapshot.Offline.Should().Equal("bob");
        snapshot.Forbidden.Should().Equal("mallory");

        RecordingClient bob = await ConnectAsync("bob");
        await alice.WaitUntilAsync(c => c.Events<RelayPresenceEventArgs>().Any(p => p.User == "bob" && p.IsOnline), "bob is online");
        await alice.WaitUntilAsync(c => c.Events<RelayMemberEventArgs>().Any(m => m.User == "bob" && m.Group == "team"), "bob joined team");
        await bob.Client.SetStatusAsync("away").WaitAsync(Wait);
        await alice.WaitUntilAsync(c => c.Events<RelayPresenceEventArgs>().Any(p => p.User == "bob" && p.Status == "away"), "bob is away");
        (await alice.Client.MembersAsync("team").WaitAsync(Wait)).Should().BeEquivalentTo("alice", "bob");

        await bob.Client.StopAsync().WaitAsync(Wait);
        await alice.WaitUntilAsync(c => c.Events<RelayPresenceEventArgs>().LastOrDefault(p => p.User == "bob") is { IsOnline: false }, "bob went offline");
        await alice.WaitUntilAsync(c => c.Client.State == RelayClientState.Connected, "alice is connected");
    }

    [Fact]
    public async Task Watch_IsRestoredAfterAReconnect_AndWhatChangedMeanwhileIsRaised()
    {
        RecordingClient alice = await ConnectAsync("alice", viaProxy: true);
        await alice.Client.WatchAsync(new[] { "bob" }).WaitAsync(Wait);
        _proxy.Refusing = true;
        _proxy.CutAll();
        await alice.WaitUntilAsync(c => c.Client.State == RelayClientState.Reconnecting, "alice is reconnecting");
        RecordingClient bob = await ConnectAsync("bob");
        _proxy.Refusing = false;
        await alice.WaitUntilAsync(c => c.Events<RelayPresenceEventArgs>().Any(p => p.User == "bob" && p.IsOnline), "alice learns bob came online while she was away");

        await bob.Client.StopAsync().WaitAsync(Wait);
        await alice.WaitUntilAsync(c => c.Events<RelayPresenceEventArgs>().LastOrDefault(p => p.User == "bob") is { IsOnline: false }, "the watch is live again");
    }

    [Fact]
    public async Task RefusedToken_AtStart_ThrowsUnauthorized_RaisesItOnce_AndNeverRetries()
    {
        var client = new RecordingClient(RecordingClient.OptionsFor("!anonymous", _host.RelayUri));
        _owned.Add(client);
        Func<Task> start = () => client.Client.StartAsync().WaitAsync(Wait);
        (await start.Should().ThrowAsync<RelayUnauthorizedException>()).Which.HttpStatusCode.Should().Be(HttpStatusCode.Unauthorized);

        await Task.Delay(1500);
        client.Events<RelayUnauthorizedEventArgs>().Should().ContainSingle().Which.HttpStatusCode.Should().Be(HttpStatusCode.Unauthorized);
        client.Client.State.Should().Be(RelayClientState.Unauthorized);
        _host.UpgradeAttempts.Should().Be(1, "a refused identity is not retried without a new token");
    }

    [Fact]
    public async Task TokenRefusedOnReconnect_StopsWithOneUnauthorized_NoStorm_AndStartAsyncWithAFreshTokenResumes()
    {
        string token = "bob";
        int tokenCalls = 0;
        RecordingClient alice = await ConnectAsync("alice");
        RecordingClient bob = await ConnectAsync("bob", viaProxy: true, o => o.AccessTokenProvider = _ =>
        {
            Interlocked.Increment(ref tokenCalls);
            return ValueTask.FromResult<string?>(Volatile.Read(ref token));
        });
        tokenCalls.Should().Be(1);
        await alice.Client.SendAsync("team", RecordingClient.Body(1)).WaitAsync(Wait);
        await bob.WaitForMessagesAsync("team", 1);

        Volatile.Write(ref token, "!anonymous");
        int attemptsBefore = _host.UpgradeAttempts;
        _proxy.CutAll();
        await bob.WaitForStateAsync(RelayClientState.Unauthorized);
        Task<RelayAck> queued = bob.Client.SendAsync("team", RecordingClient.Body("queued while refused"));
        await alice.Client.SendAsync("team", RecordingClient.Body(2)).WaitAsync(Wait);
        await Task.Delay(1500);
        _host.UpgradeAttempts.Should().Be(attemptsBefore + 1, "one refused attempt, then no reconnect storm");
        bob.Events<RelayUnauthorizedEventArgs>().Should().ContainSingle();
        queued.IsCompleted.Should().BeFalse("queued sends wait for a fresh token");

        Volatile.Write(ref token, "bob");
        await bob.Client.StartAsync().WaitAsync(Wait);
        (await queued.WaitAsync(Wait)).Seq.Should().Be(3);
        await bob.WaitForMessagesAsync("team", 3);
        bob.MessagesOf("team").Select(m => m.Seq).Should().Equal(1L, 2L, 3L);
        tokenCalls.Should().Be(3, "the provider is asked on every connect");
    }

    [Fact]
    public async Task Token_GoesInTheAuthorizationHeaderByDefault_OrInTheQuery()
    {
        RecordingClient header = await ConnectAsync("alice");
        RecordingClient query = await ConnectAsync("bob", configure: o => o.AccessTokenPlacement = AccessTokenPlacement.QueryString);
        header.Client.User.Should().Be("alice");
        query.Client.User.Should().Be("bob");
        query.Client.CurrentUrl!.Query.Should().BeEmpty("the URL the client shows never holds the token");
    }

    [Fact]
    public async Task SeveralUrls_TheFirstDown_TheClientUsesTheNext()
    {
        var dead = new Uri($"ws://127.0.0.1:{Testing.LocalRedis.FreePort()}/relay");
        RecordingClient alice = await ConnectAsync("alice", configure: o => o.Urls.Insert(0, dead));
        alice.Client.CurrentUrl!.Port.Should().Be(_host.Port);
    }

    [Fact]
    public async Task ReconnectPolicy_ThatGivesUp_LeavesTheClientDisconnected_AndFailsQueuedSends()
    {
        var policy = new GiveUpAfter(2);
        RecordingClient alice = await ConnectAsync("alice", viaProxy: true, o => o.ReconnectPolicy = policy);
        _proxy.Refusing = true;
        _proxy.CutAll();
        await alice.WaitUntilAsync(c => c.Client.State == RelayClientState.Reconnecting, "alice is reconnecting");
        Task<RelayAck> send = alice.Client.SendAsync("team", RecordingClient.Body(1));
        await alice.WaitForStateAsync(RelayClientState.Disconnected);
        await send.Awaiting(s => s.WaitAsync(Wait)).Should().ThrowAsync<GroupRelayClientException>();
        policy.Calls.Should().Be(3, "asked before each of two attempts, then told to give up");
        policy.LastContext!.PreviousRetryCount.Should().Be(2);
        policy.LastContext.RetryReason.Should().NotBeNull();
        Func<Task> later = () => alice.Client.SendAsync("team", RecordingClient.Body(2));
        await later.Should().ThrowAsync<InvalidOperationException>("a disconnected client takes no sends");
    }

    [Fact]
    public async Task Stop_ThenStart_ResumesFromThePositionsItHad()
    {
        RecordingClient alice = await ConnectAsync("alice");
        RecordingClient bob = await ConnectAsync("bob");
        await alice.Client.SendAsync("team", RecordingClient.Body(1)).WaitAsync(Wait);
        await bob.WaitForMessagesAsync("team", 1);
        await bob.Client.StopAsync().WaitAsync(Wait);
        bob.Client.State.Should().Be(RelayClientState.Disconnected);
        await alice.Client.SendAsync("team", RecordingClient.Body(2)).WaitAsync(Wait);
        await alice.Client.SendAsync("team", RecordingClient.Body(3)).WaitAsync(Wait);

        await bob.Client.StartAsync().WaitAsync(Wait);
        await bob.WaitForMessagesAsync("team", 3);
        bob.MessagesOf("team").Select(m => m.Seq).Should().Equal(1L, 2L, 3L);
    }

    [Fact]
    public async Task InitialPositions_ResumeANewClient_FromWhereTheLastRunStopped()
    {
        RecordingClient alice = await ConnectAsync("alice");
        RecordingClient bob = await ConnectAsync("bob");
        await alice.Client.SendAsync("team", RecordingClient.Body(1)).WaitAsync(Wait);
        await bob.WaitForMessagesAsync("team", 1);
        IReadOnlyDictionary<string, RelayStreamPosition> saved = bob.Client.GetPositions();
        await bob.DisposeAsync();
        _owned.Remove(bob);
        await alice.Client.SendAsync("team", RecordingClient.Body(2)).WaitAsync(Wait);

        RecordingClient again = await ConnectAsync("bob", configure: o => o.InitialPositions["team"] = saved["team"]);
        await again.WaitForMessagesAsync("team", 1);
        again.MessagesOf("team").Select(m => m.Seq).Should().Equal(2L);
    }

    [Fact]
    public async Task GroupAdded_AndRemoved_AtRunTime_AreRaised_AndTheNewGroupsMessagesFollow()
    {
        RecordingClient alice = await ConnectAsync("alice");
        RecordingClient carol = await ConnectAsync("carol");
        await carol.Client.SendAsync("ops", RecordingClient.Body("before")).WaitAsync(Wait);
        (await _host.Relay.AddUserToGroupAsync("alice", "ops")).Should().BeTrue();
        await alice.WaitUntilAsync(c => c.Events<RelayGroupEventArgs>().Any(g => g.Group == "ops" && g.Position is not null), "alice was added to ops");
        alice.Events<RelayGroupEventArgs>().Single().Position!.Seq.Should().Be(1);
        alice.Client.Groups.Should().Contain("ops");
        await carol.Client.SendAsync("ops", RecordingClient.Body("after")).WaitAsync(Wait);
        await alice.WaitForMessagesAsync("ops", 1);
        alice.MessagesOf("ops").Single().Seq.Should().Be(2);

        await _host.Relay.RemoveUserFromGroupAsync("alice", "ops");
        await alice.WaitUntilAsync(c => c.Events<RelayGroupEventArgs>().Any(g => g.Group == "ops" && g.Position is null), "alice was removed from ops");
        alice.Client.Groups.Should().NotContain("ops");
    }

    [Fact]
    public async Task SendAsync_Validates_BeforeAnythingIsQueued()
    {
        RecordingClient alice = await ConnectAsync("alice", configure: o => o.MaxFrameBytes = 1024);
        await alice.Awaiting(a => a.Client.SendAsync("team", RecordingClient.Body(new string('x', 2000)))).Should().ThrowAsync<ArgumentException>().WithMessage("*MaxFrameBytes*");
        await alice.Awaiting(a => a.Client.SendAsync("", RecordingClient.Body(1))).Should().ThrowAsync<ArgumentException>();
        await alice.Awaiting(a => a.Client.SendAsync("team", default)).Should().ThrowAsync<ArgumentException>();
        await alice.Awaiting(a => a.Client.HistoryAsync("team", limit: 0)).Should().ThrowAsync<ArgumentOutOfRangeException>();
        var never = new GroupRelayClient(RecordingClient.OptionsFor("x", _host.RelayUri));
        await never.Awaiting(c => c.SendAsync("team", RecordingClient.Body(1))).Should().ThrowAsync<InvalidOperationException>().WithMessage("*StartAsync*");
        await never.DisposeAsync();
    }

    [Fact]
    public async Task Logs_NeverHoldTheToken_NorMessageBodies()
    {
        const string Secret = "alice";
        var logs = new CapturingLogs();
        var dead = new Uri($"ws://127.0.0.1:{Testing.LocalRedis.FreePort()}/relay?tenant=1");
        RecordingClient alice = await ConnectAsync(Secret, viaProxy: true, o =>
        {
            o.AccessTokenPlacement = AccessTokenPlacement.QueryString;
            o.LoggerFactory = logs;
            o.Urls.Insert(0, dead);
        });
        await alice.Client.SendAsync("team", RecordingClient.Body("body-text")).WaitAsync(Wait);
        _proxy.CutAll();
        await alice.WaitForStateAsync(RelayClientState.Reconnecting, Wait).ContinueWith(_ => { });
        await alice.WaitForStateAsync(RelayClientState.Connected);

        logs.Lines.Should().NotBeEmpty();
        logs.Lines.Should().Contain(l => l.Contains("Connected to", StringComparison.Ordinal));
        logs.Lines.Should().NotContain(l => l.Contains("access_token", StringComparison.Ordinal) || l.Contains("body-text", StringComparison.Ordinal) || l.Contains("tenant=1", StringComparison.Ordinal));
    }

    private sealed class CapturingLogs : Microsoft.Extensions.Logging.ILoggerFactory, Microsoft.Extensions.Logging.ILogger
    {
        private readonly List<string> _lines = new();

        public IReadOnlyList<string> Lines
        {
            get
            {
                lock (_lines)
                {
                    return _lines.ToList();
                }
            }
        }

        public void AddProvider(Microsoft.Extensions.Logging.ILoggerProvider provider)
        {
        }

        public Microsoft.Extensions.Logging.ILogger CreateLogger(string categoryName) => this;

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;

        public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (_lines)
            {
                _lines.Add(formatter(state, exception) + " " + exception);
            }
        }

        public void Dispose()
        {
        }
    }

    private sealed class GiveUpAfter(int attempts) : IRelayReconnectPolicy
    {
        public int Calls;

        public RelayRetryContext? LastContext;

        public TimeSpan? NextRetryDelay(RelayRetryContext retryContext)
        {
            Calls++;
            LastContext = retryContext;
            return retryContext.PreviousRetryCount < attempts ? TimeSpan.FromMilliseconds(10) : null;
        }
    }
}
