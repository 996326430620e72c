using System;
using System.Threading;
using System.Threading.Tasks;
using FluentAssertions;
using GroupRelay.Internal;
using GroupRelay.ScaleOut;
using Xunit;

namespace GroupRelay.Redis.Tests;

/// <summary>
/// A pipelined send completes once, with its seq, when both of its waits are over: the seq from the publish script's
/// reply and, for a sender that gets its echo, this node's delivery of the message. Either may come first.
/// </summary>
public sealed class PendingPublishTests
{
    private static PendingPublish Pending(bool waitForEcho)
        => new(publishId: 7, new byte[] { 1, 2, 3 }, 1, new OutgoingMessage("alice", Timestamp: 1, Compact: true, Skip: null), waitForEcho ? Environment.TickCount64 : null);

    [Fact]
    public async Task WithoutEcho_TheSeqCompletesIt()
    {
        PendingPublish pending = Pending(waitForEcho: false);

        pending.SeqKnown(42);

        pending.Done.Task.IsCompletedSuccessfully.Should().BeTrue();
        (await pending.Done.Task).Seq.Should().Be(42);
    }

    [Fact]
    public async Task WithEcho_TheSeqAloneDoesNotCompleteIt_TheEchoThenDoes()
    {
        PendingPublish pending = Pending(waitForEcho: true);

        pending.SeqKnown(42);
        pending.Done.Task.IsCompleted.Should().BeFalse("the ack must not overtake the sender's echo");

        pending.EchoDone();
        pending.Done.Task.IsCompletedSuccessfully.Should().BeTrue();
        (await pending.Done.Task).Seq.Should().Be(42);
    }

    [Fact]
    public async Task WithEcho_AnEchoBeforeTheSeq_CompletesItWithTheSeqThatComesLater()
    {
        PendingPublish pending = Pending(waitForEcho: true);

        pending.EchoDone();
        pending.Done.Task.IsCompleted.Should().BeFalse("the seq is not known yet");

        pending.SeqKnown(43);
        pending.Done.Task.IsCompletedSuccessfully.Should().BeTrue();
        (await pending.Done.Task).Seq.Should().Be(43);
    }

    [Fact]
    public async Task SeqAndEchoOnDifferentThreadsAtOnce_AlwaysCompleteWithTheSeq()
    {
        for (int i = 1; i <= 2_000; i++)
        {
            PendingPublish pending = Pending(waitForEcho: true);
            using var start = new Barrier(2);
            long seq = i;
            Task echo = Task.Run(() =>
            {
                start.SignalAndWait();
                pending.EchoDone();
            });
            Task reply = Task.Run(() =>
            {
                start.SignalAndWait();
                pending.SeqKnown(seq);
            });
            await Task.WhenAll(echo, reply);

            (await pending.Done.Task).Seq.Should().Be(seq);
        }
    }

    [Fact]
    public async Task NotPublished_SettlesAtOnce_WithoutWaitingForAnEcho_AndALateEchoChangesNothing()
    {
        PendingPublish pending = Pending(waitForEcho: true);

        pending.Settle(new PublishOutcome(41, Duplicate: true));
        pending.EchoDone();
        pending.SeqKnown(99);

        pending.Done.Task.IsCompletedSuccessfully.Should().BeTrue("a duplicate was not published, so no echo will come");
        (await pending.Done.Task).Should().Be(new PublishOutcome(41, Duplicate: true));
    }

    [Fact]
    public async Task AFailure_FaultsIt_AndALateEchoChangesNothing()
    {
        PendingPublish pending = Pending(waitForEcho: true);

        pending.Done.TrySetException(new InvalidOperationException("script failed"));
        pending.EchoDone();
        pending.EchoDone();

        Func<Task> awaiting = () => pending.Done.Task;
        await awaiting.Should().ThrowAsync<InvalidOperationException>().WithMessage("script failed");
    }
}
