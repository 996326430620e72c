using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics.Metrics;
using System.Linq;
using System.Text;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using FluentAssertions;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace GroupRelay.Specification.Tests;

/// <summary>
/// The host's hooks on client messages (issue 14, section 1): <see cref="IMessageFilter"/> before the <c>seq</c> is
/// assigned (accept, replace, refuse -> <c>forbidden</c>, PROTOCOL.md section 4) and <see cref="IMessageObserver"/> after.
/// </summary>
public abstract partial class RelayProtocolSpecification
{
    [Fact]
    public async Task Filter_SeesSenderConnectionGroupAndBody_AndALetThroughMessageIsDeliveredUnchanged()
    {
        var filter = new DelegateFilter((_, _) => new(MessageFilterResult.Accept));
        Server.ConfigureRelay = relay => relay.AddMessageFilter(filter);
        Group("team", "alice", "bob");
        await StartAsync();
        RelayTestClient alice = await ConnectAsync("alice");
        RelayTestClient bob = await ConnectAsync("bob");

        JsonElement ack = await alice.RequestAsync(Req("send", ("group", "team"), ("body", new { text = "hi" })));

        Type(ack).Should().Be("ack");
        (await bob.ExpectAsync("message")).GetProperty("body").GetRawText().Should().Be("{\"text\":\"hi\"}");
        FilterCall call = filter.Calls.Should().ContainSingle().Subject;
        call.UserId.Should().Be("alice");
        call.GroupId.Should().Be("team");
        call.Body.Should().Be("{\"text\":\"hi\"}");
        call.IdempotencyKey.Should().Be(ack.GetProperty("id").GetString());
        call.ConnectionId.Should().NotBeNullOrEmpty();
    }

    [Fact]
    public async Task Filter_ReplacesTheBody_EveryMemberGetsTheCompactReplacement_AndFiltersRunInOrder()
    {
        var first = new DelegateFilter((m, _) => new(MessageFilterResult.Replace(Encoding.UTF8.GetBytes("{ \"text\" : \"[redacted]\", \"n\" : 1 }"))));
        var second = new DelegateFilter((m, _) => new(MessageFilterResult.Accept));
        Server.ConfigureRelay = relay => relay.AddMessageFilter(first).AddMessageFilter(second);
        Group("team", "alice", "bob");
        await StartAsync();
        RelayTestClient alice = await ConnectAsync("alice");
        RelayTestClient bob = await ConnectAsync("bob");

        JsonElement ack = await alice.RequestAsync(Req("send", ("group", "team"), ("body", new { text = "secret" })));

        Type(ack).Should().Be("ack");
        foreach (RelayTestClient client in new[] { alice, bob })
        {
            JsonElement message = await client.ExpectAsync("message");
            message.GetProperty("body").GetRawText().Should().Be("{\"text\":\"[redacted]\",\"n\":1}", "a replacement is compacted like every body");
            message.GetProperty("seq").GetInt64().Should().Be(ack.GetProperty("seq").GetInt64());
        }

        second.Calls.Should().ContainSingle().Which.Body.Should().Be("{ \"text\" : \"[redacted]\", \"n\" : 1 }", "the second filter sees the first one's body");
    }

    [Fact]
    public async Task Filter_Refuses_SenderGetsForbiddenWithTheReason_NothingIsDelivered_AndNoSeqIsUsed()
    {
        var filter = new DelegateFilter((m, _) => new(m.Body.Contains("spam") ? MessageFilterResult.Refuse("no spam, please") : MessageFilterResult.Accept));
        Server.ConfigureRelay = relay => relay.AddMessageFilter(filter);
        Group("team", "alice", "bob");
        await StartAsync();
        RelayTestClient alice = await ConnectAsync("alice");
        RelayTestClient bob = await ConnectAsync("bob");

        JsonElement refused = await alice.RequestAsync(Req("send", ("group", "team"), ("body", new { text = "spam" })));
        JsonElement accepted = await alice.RequestAsync(Req("send", ("group", "team"), ("body", new { text = "ham" })));

        Type(refused).Should().Be("error");
        Str(refused, "code").Should().Be("forbidden");
        Str(refused, "message").Should().Be("no spam, please");
        Type(accepted).Should().Be("ack");
        accepted.GetProperty("seq").GetInt64().Should().Be(1, "a refused message takes no place in the stream");
        JsonElement message = await bob.ExpectAsync("message");
        message.GetProperty("body").GetRawText().Should().Be("{\"text\":\"ham\"}");
        await ExpectNothingAsync(bob, "message", "the refused message reaches nobody");
    }

    [Fact]
    public async Task Filter_ThatThrows_GivesInternalWithoutDetails_DeliversNothing_AndTheConnectionGoesOn()
    {
        var filter = new DelegateFilter((m, _) => m.Body.Contains("boom") ? throw new InvalidOperationException("database password is hunter2") : new(MessageFilterResult.Accept));
        Server.ConfigureRelay = relay => relay.AddMessageFilter(filter);
        Group("team", "alice", "bob");
        await StartAsync();
        RelayTestClient alice = await ConnectAsync("alice");
        RelayTestClient bob = await ConnectAsync("bob");

        JsonElement failed = await alice.RequestAsync(Req("send", ("group", "team"), ("body", "boom")));
        JsonElement next = await alice.RequestAsync(Req("send", ("group", "team"), ("body", "fine")));

        Str(failed, "code").Should().Be("internal");
        Str(failed, "message").Should().NotContain("hunter2").And.NotContain("InvalidOperation");
        Type(next).Should().Be("ack");
        (await bob.ExpectAsync("message")).GetProperty("body").GetString().Should().Be("fine");
        await ExpectNothingAsync(bob, "message");
    }

    [Fact]
    public async Task Filter_ThatDoesNotAnswerInTime_GivesInternal_ItsTokenIsCancelled_AndOtherConnectionsAreNotHeldUp()
    {
        var cancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var filter = new DelegateFilter(async (m, token) =>
        {
            if (!m.Body.Contains("slow"))
            {
                return MessageFilterResult.Accept;
            }

            // Ignores its token on purpose: the relay must stop waiting anyway, and the token must still be cancelled.
            token.Register(() => cancelled.TrySetResult());
            await Task.Delay(Timeout, CancellationToken.None).ConfigureAwait(false);
            return MessageFilterResult.Accept;
        });
        Server.ConfigureRelay = relay => relay.AddMessageFilter(filter);
        Group("team", "alice", "bob");
        await StartAsync(o => o.MessageFilterTimeout = TimeSpan.FromMilliseconds(300));
        RelayTestClient alice = await ConnectAsync("alice");
        RelayTestClient bob = await ConnectAsync("bob");

        Task<JsonElement> slow = alice.RequestAsync(Req("send", ("group", "team"), ("body", "slow")));
        JsonElement fromBob = await bob.RequestAsync(Req("send", ("group", "team"), ("body", "quick")));
        JsonElement answer = await slow;

        Type(fromBob).Should().Be("ack", "another connection's send is not behind the slow filter");
        Str(answer, "code").Should().Be("internal");
        await cancelled.Task.WaitAsync(Timeout);
        List<JsonElement> messages = await SettleAsync(bob);
        messages.Where(f => Type(f) == "message").Select(f => f.GetProperty("body").GetString()).Should().Equal("quick");
    }

    [Fact]
    public async Task ServerPublish_BypassesTheFilters()
    {
        var filter = new DelegateFilter((_, _) => new(MessageFilterResult.Refuse("clients may not send")));
        Server.ConfigureRelay = relay => relay.AddMessageFilter(filter);
        Group("team", "bob");
        await StartAsync();
        RelayTestClient bob = await ConnectAsync("bob");

        long seq = await Server.Relay.PublishAsync("team", "{\"text\":\"from the server\"}"u8.ToArray(), "system").AsTask().WaitAsync(Timeout);

        (await bob.ExpectAsync("message")).GetProperty("seq").GetInt64().Should().Be(seq);
        filter.Calls.Should().BeEmpty();
    }

    [Fact]
    public async Task Observer_SeesEachAcceptedMessageOnceWithItsSeq_NotRefusedOnesNorRepeatedIds()
    {
        var filter = new DelegateFilter((m, _) => new(m.Body.Contains("spam") ? MessageFilterResult.Refuse("no") : MessageFilterResult.Accept));
        var observer = new RecordingObserver();
        Server.ConfigureRelay = relay => relay.AddMessageFilter(filter).AddMessageObserver(observer);
        Group("team", "alice", "bob");
        await StartAsync();
        RelayTestClient alice = await ConnectAsync("alice");

        JsonElement first = await alice.RequestAsync(Req("send", ("id", "k1"), ("group", "team"), ("body", new { text = "one" })));
        JsonElement repeat = await alice.RequestAsync(Req("send", ("id", "k1"), ("group", "team"), ("body", new { text = "one" })));
        await alice.RequestAsync(Req("send", ("group", "team"), ("body", "spam")));
        JsonElement second = await alice.RequestAsync(Req("send", ("group", "team"), ("body", new { text = "two" })));
        long published = await Server.Relay.PublishAsync("team", "{ \"text\" : \"three\" }"u8.ToArray(), "system").AsTask().WaitAsync(Timeout);

        repeat.GetProperty("duplicate").GetBoolean().Should().BeTrue();
        (await EventuallyAsync(() => Task.FromResult(observer.Messages.Count >= 3))).Should().BeTrue("three messages were accepted");
        await Task.Delay(200);
        observer.Messages.Select(m => (m.GroupId, m.From, m.Seq, Body: Encoding.UTF8.GetString(m.Body.Span), m.IdempotencyKey))
            .OrderBy(m => m.Seq)
            .Should().Equal(
                ("team", "alice", first.GetProperty("seq").GetInt64(), "{\"text\":\"one\"}", (string?)"k1"),
                ("team", "alice", second.GetProperty("seq").GetInt64(), "{\"text\":\"two\"}", second.GetProperty("id").GetString()),
                ("team", "system", published, "{\"text\":\"three\"}", (string?)null));
        observer.Messages.Single(m => m.From == "system").ConnectionId.Should().BeNull();
        observer.Messages.Where(m => m.From == "alice").Should().AllSatisfy(m => m.ConnectionId.Should().NotBeNullOrEmpty());
    }

    [Fact]
    public async Task Observer_ThatIsBlocked_DoesNotDelayFanOut_AndOneThatThrows_IsCountedAndTheNextMessageIsObserved()
    {
        using var gate = new SemaphoreSlim(0);
        var blocked = new RecordingObserver(gate);
        var throwing = new RecordingObserver(throwOn: "bad");
        Server.ConfigureRelay = relay => relay.AddMessageObserver(blocked).AddMessageObserver(throwing);
        Group("team", "alice", "bob");
        await StartAsync();
        using var failures = new MeterCounter(Server.Services, "grouprelay.observer.failures");
        RelayTestClient alice = await ConnectAsync("alice");
        RelayTestClient bob = await ConnectAsync("bob");

        foreach (string body in new[] { "a", "bad", "c" })
        {
            Type(await alice.RequestAsync(Req("send", ("group", "team"), ("body", body)))).Should().Be("ack");
        }

        (await bob.CollectAsync("message", 3)).Select(m => m.GetProperty("body").GetString()).Should().Equal("a", "bad", "c");
        blocked.Messages.Should().BeEmpty("the first observer is still blocked on the first message");

        gate.Release(3);
        (await EventuallyAsync(() => Task.FromResult(throwing.Calls == 3))).Should().BeTrue("every message reaches the second observer");
        blocked.Messages.Select(m => Encoding.UTF8.GetString(m.Body.Span)).Should().Equal("\"a\"", "\"bad\"", "\"c\"");
        throwing.Messages.Select(m => Encoding.UTF8.GetString(m.Body.Span)).Should().Equal("\"a\"", "\"c\"");
        failures.Total.Should().Be(1);
    }

    [Fact]
    public async Task Observer_QueueFull_TheMessageIsDeliveredButNotObserved_AndCountedAsADrop()
    {
        using var gate = new SemaphoreSlim(0);
        var blocked = new RecordingObserver(gate);
        Server.ConfigureRelay = relay => relay.AddMessageObserver(blocked);
        Group("team", "alice", "bob");
        await StartAsync(o => o.MessageObserverQueueCapacity = 1);
        using var drops = new MeterCounter(Server.Services, "grouprelay.drops", ("grouprelay.drop.reason", "observer_queue_full"));
        RelayTestClient alice = await ConnectAsync("alice");
        RelayTestClient bob = await ConnectAsync("bob");

        // The loop takes the first message and blocks on it; the second fills the queue of one; the third finds it full.
        Type(await alice.RequestAsync(Req("send", ("group", "team"), ("body", 1)))).Should().Be("ack");
        (await EventuallyAsync(() => Task.FromResult(blocked.Waiting == 1))).Should().BeTrue("the observer holds the first message");
        Type(await alice.RequestAsync(Req("send", ("group", "team"), ("body", 2)))).Should().Be("ack");
        Type(await alice.RequestAsync(Req("send", ("group", "team"), ("body", 3)))).Should().Be("ack");

        (await bob.CollectAsync("message", 3)).Should().HaveCount(3, "observers never hold up delivery");
        drops.Total.Should().Be(1);
        gate.Release(3);
        (await EventuallyAsync(() => Task.FromResult(blocked.Messages.Count == 2))).Should().BeTrue();
        blocked.Messages.Select(m => m.Seq).Should().Equal(1, 2);
    }

    private sealed record FilterCall(string UserId, string ConnectionId, string GroupId, string Body, string? IdempotencyKey);

    private sealed class DelegateFilter(Func<FilterCall, CancellationToken, ValueTask<MessageFilterResult>> decide) : IMessageFilter
    {
        public ConcurrentQueue<FilterCall> Calls { get; } = new();

        public ValueTask<MessageFilterResult> FilterAsync(MessageFilterContext message, CancellationToken cancellationToken)
        {
            var call = new FilterCall(message.UserId, message.ConnectionId, message.GroupId, Encoding.UTF8.GetString(message.Body.Span), message.IdempotencyKey);
            Calls.Enqueue(call);
            return decide(call, cancellationToken);
        }
    }

    private sealed class RecordingObserver(SemaphoreSlim? gate = null, string? throwOn = null) : IMessageObserver
    {
        private int _calls;
        private int _waiting;

        public ConcurrentQueue<AcceptedMessage> Messages { get; } = new();

        public int Calls => Volatile.Read(ref _calls);

        public int Waiting => Volatile.Read(ref _waiting);

        public async ValueTask OnMessageAcceptedAsync(AcceptedMessage message, CancellationToken cancellationToken)
        {
            if (gate is not null)
            {
                Interlocked.Increment(ref _waiting);
                await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
                Interlocked.Decrement(ref _waiting);
            }

            Interlocked.Increment(ref _calls);
            if (throwOn is not null && Encoding.UTF8.GetString(message.Body.Span).Contains(throwOn, StringComparison.Ordinal))
            {
                throw new InvalidOperationException("the observer's store is down");
            }

            Messages.Enqueue(message);
        }
    }

    /// <summary>
    /// Sums one counter of a started server's <c>GroupRelay</c> meter: only the meter its own <see cref="IMeterFactory"/>
    /// created (the meter's scope), so tests running in parallel with servers of their own do not count here.
    /// </summary>
    protected sealed class MeterCounter : IDisposable
    {
        private readonly MeterListener _listener = new();
        private long _total;

        public MeterCounter(IServiceProvider startedServer, string instrument, (string Key, string Value)? tag = null)
        {
            IMeterFactory factory = startedServer.GetRequiredService<IMeterFactory>();
            _listener.InstrumentPublished = (i, listener) =>
            {
                if (i.Meter.Name == "GroupRelay" && i.Name == instrument && ReferenceEquals(i.Meter.Scope, factory))
                {
                    listener.EnableMeasurementEvents(i);
                }
            };
            _listener.SetMeasurementEventCallback<long>((i, value, tags, state) =>
            {
                if (tag is var (key, expected) && !tags.ToArray().Any(t => t.Key == key && Equals(t.Value, expected)))
                {
                    return;
                }

                Interlocked.Add(ref _total, value);
            });
            _listener.Start();
        }

        public long Total => Interlocked.Read(ref _total);

        public void Dispose() => _listener.Dispose();
    }
}
