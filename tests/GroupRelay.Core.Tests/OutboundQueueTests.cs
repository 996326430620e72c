using System;
using System.Linq;
using System.Text;
using System.Threading.Tasks;
using FluentAssertions;
using GroupRelay.Core.Tests.Infrastructure;
using GroupRelay.Internal;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;

namespace GroupRelay.Core.Tests;

public sealed class OutboundQueueTests
{
    private static (OutboundQueue Queue, FakeRelaySocket Socket) Start(Action<GroupRelayOptions>? configure = null)
    {
        var options = new GroupRelayOptions();
        configure?.Invoke(options);
        var socket = new FakeRelaySocket();
        var queue = new OutboundQueue(socket, options, NullLogger.Instance, metrics: null, "c-test", "u-test");
        queue.Start();
        return (queue, socket);
    }

    /// <summary>A distinct JSON frame of exactly <paramref name="size"/> bytes.</summary>
    private static byte[] Frame(int n, int size = 0)
    {
        string head = $"{{\"n\":{n},\"pad\":\"";
        int pad = Math.Max(0, size - head.Length - 2);
        return Encoding.UTF8.GetBytes(head + new string('x', pad) + "\"}");
    }

    private static string Text(byte[] frame) => Encoding.UTF8.GetString(frame);

    /// <summary>Holds the socket and queues one frame, so the writer is stuck inside SendAsync with it.</summary>
    private static async Task<byte[]> StallWriterAsync(OutboundQueue queue, FakeRelaySocket socket)
    {
        socket.HoldSends();
        byte[] first = Frame(0);
        queue.TryEnqueue(first).Should().Be(EnqueueResult.Queued);
        await socket.WaitForSendsStartedAsync(1);
        return first;
    }

    private static async Task EndAsync(OutboundQueue queue)
    {
        queue.TransportEnded();
        await queue.Completion.WaitAsync(TestTimeouts.Default);
    }

    [Fact]
    public async Task TryEnqueue_ManyFrames_SentInFifoOrder()
    {
        (OutboundQueue queue, FakeRelaySocket socket) = Start();
        byte[][] frames = Enumerable.Range(0, 500).Select(i => Frame(i)).ToArray();

        foreach (byte[] frame in frames)
        {
            queue.TryEnqueue(frame).Should().Be(EnqueueResult.Queued);
        }

        await socket.WaitForFrameCountAsync(frames.Length);
        socket.Frames.Should().Equal(frames.Select(Text));
        await EndAsync(queue);
    }

    [Fact]
    public async Task Writer_FramesQueuedWhileSending_CoalescedIntoOneSendSeparatedByLineFeed()
    {
        (OutboundQueue queue, FakeRelaySocket socket) = Start();
        byte[] first = await StallWriterAsync(queue, socket);
        byte[][] queued = Enumerable.Range(1, 10).Select(i => Frame(i)).ToArray();
        foreach (byte[] frame in queued)
        {
            queue.TryEnqueue(frame);
        }

        socket.ReleaseSends();
        await socket.WaitForFrameCountAsync(11);

        socket.Sends.Should().HaveCount(2);
        Text(socket.Sends[0]).Should().Be(Text(first));
        Text(socket.Sends[1]).Should().Be(string.Join("\n", queued.Select(Text)));
        await EndAsync(queue);
    }

    [Fact]
    public async Task Writer_Coalescing_NeverExceedsMaxFrameBytes()
    {
        (OutboundQueue queue, FakeRelaySocket socket) = Start(o => o.MaxFrameBytes = 256);
        await StallWriterAsync(queue, socket);
        byte[][] queued = Enumerable.Range(1, 20).Select(i => Frame(i, size: 100)).ToArray();
        foreach (byte[] frame in queued)
        {
            queue.TryEnqueue(frame);
        }

        socket.ReleaseSends();
        await socket.WaitForFrameCountAsync(21);

        socket.Sends.Skip(1).Should().OnlyContain(s => s.Length <= 256);
        socket.Sends.Skip(1).Should().OnlyContain(s => Text(s).Split('\n').Length == 2, "two 100-byte frames and a separator fit in 256 bytes, three do not");
        socket.Frames.Skip(1).Should().Equal(queued.Select(Text));
        await EndAsync(queue);
    }

    [Fact]
    public async Task Writer_FrameLargerThanMaxFrameBytes_IsSentAloneAndOrderKept()
    {
        (OutboundQueue queue, FakeRelaySocket socket) = Start(o => o.MaxFrameBytes = 256);
        await StallWriterAsync(queue, socket);
        byte[][] queued = { Frame(1, 50), Frame(2, 1000), Frame(3, 50), Frame(4, 50), Frame(5, 1000) };
        foreach (byte[] frame in queued)
        {
            queue.TryEnqueue(frame);
        }

        socket.ReleaseSends();
        await socket.WaitForFrameCountAsync(6);

        socket.Frames.Skip(1).Should().Equal(queued.Select(Text));
        foreach (byte[] send in socket.Sends)
        {
            (send.Length <= 256 || !send.Contains((byte)'\n')).Should().BeTrue($"a send over MaxFrameBytes holds one frame only: {Text(send)}");
        }

        socket.Sends.Select(Text).Should().Contain(Text(Frame(3, 50)) + "\n" + Text(Frame(4, 50)));
        await EndAsync(queue);
    }

    [Fact]
    public async Task TryEnqueue_OverMaxQueueFrames_ClosesWith4001AndRefusesLaterFrames()
    {
        (OutboundQueue queue, FakeRelaySocket socket) = Start(o =>
        {
            o.MaxQueueFrames = 3;
            o.SlowConsumerTimeout = TimeSpan.Zero; // the writer is stuck in a send: a slow consumer as soon as it is behind
        });
        byte[] first = await StallWriterAsync(queue, socket);

        queue.TryEnqueue(Frame(1)).Should().Be(EnqueueResult.Queued);
        queue.TryEnqueue(Frame(2)).Should().Be(EnqueueResult.Queued);
        queue.TryEnqueue(Frame(3)).Should().Be(EnqueueResult.Queued);
        queue.TryEnqueue(Frame(4)).Should().Be(EnqueueResult.Overflow);
        queue.TryEnqueue(Frame(5)).Should().Be(EnqueueResult.Closing);

        queue.IsClosing.Should().BeTrue();
        queue.CloseCode.Should().Be(RelayCloseCodes.SlowConsumer);
        socket.ReleaseSends();
        (await socket.WaitForCloseAsync()).Should().Be(4001);
        socket.Frames.Should().Equal(new[] { Text(first) }, "the queued frames of a slow consumer are dropped, not sent");
        socket.Events.Should().Equal("send", "close:4001");
        await EndAsync(queue);
        queue.QueuedBytes.Should().Be(0);
    }

    [Fact]
    public async Task TryEnqueue_OverMaxQueueBytes_ClosesWith4001()
    {
        (OutboundQueue queue, FakeRelaySocket socket) = Start(o =>
        {
            o.MaxQueueBytes = 1024;
            o.SlowConsumerTimeout = TimeSpan.Zero;
        });
        await StallWriterAsync(queue, socket);

        queue.TryEnqueue(Frame(1, 400)).Should().Be(EnqueueResult.Queued);
        queue.TryEnqueue(Frame(2, 400)).Should().Be(EnqueueResult.Queued);
        queue.QueuedBytes.Should().Be(800);
        queue.TryEnqueue(Frame(3, 400)).Should().Be(EnqueueResult.Overflow);
        queue.TryEnqueue(Frame(4, 1)).Should().Be(EnqueueResult.Closing);

        socket.ReleaseSends();
        (await socket.WaitForCloseAsync()).Should().Be(RelayCloseCodes.SlowConsumer);
        await EndAsync(queue);
    }

    [Fact]
    public async Task TryEnqueue_OverTheBoundWhileTheWriterIsStuckForLessThanTheTimeout_IsQueuedUpToFourTimesTheBound()
    {
        (OutboundQueue queue, FakeRelaySocket socket) = Start(o =>
        {
            o.MaxQueueFrames = 3;
            o.SlowConsumerTimeout = TimeSpan.FromHours(1);
        });
        await StallWriterAsync(queue, socket);

        for (int i = 1; i <= OutboundQueue.HardBoundFactor * 3; i++)
        {
            queue.TryEnqueue(Frame(i)).Should().Be(EnqueueResult.Queued, $"frame {i} is within four times the bound and the reader is not judged stuck yet");
        }

        queue.TryEnqueue(Frame(99)).Should().Be(EnqueueResult.Overflow, "four times the bound is the hard limit");
        queue.CloseCode.Should().Be(RelayCloseCodes.SlowConsumer);
        socket.ReleaseSends();
        (await socket.WaitForCloseAsync()).Should().Be(RelayCloseCodes.SlowConsumer);
        await EndAsync(queue);
    }

    [Fact]
    public async Task TryEnqueue_OverTheBoundAfterTheWriterDrainedABurst_IsQueued()
    {
        (OutboundQueue queue, FakeRelaySocket socket) = Start(o =>
        {
            o.MaxQueueFrames = 3;
            o.SlowConsumerTimeout = TimeSpan.FromHours(1);
        });
        await StallWriterAsync(queue, socket);
        for (int i = 1; i <= 10; i++)
        {
            queue.TryEnqueue(Frame(i)).Should().Be(EnqueueResult.Queued);
        }

        // The reader takes everything: the queue drains, and the next burst over the bound is accepted again.
        socket.ReleaseSends();
        await socket.WaitForFrameCountAsync(11);
        socket.HoldSends();
        queue.TryEnqueue(Frame(11)).Should().Be(EnqueueResult.Queued);
        await socket.WaitForSendsStartedAsync(socket.Sends.Count + 1);
        for (int i = 12; i <= 20; i++)
        {
            queue.TryEnqueue(Frame(i)).Should().Be(EnqueueResult.Queued);
        }

        queue.IsClosing.Should().BeFalse();
        socket.ReleaseSends();
        await socket.WaitForFrameCountAsync(21);
        await EndAsync(queue);
    }

    [Fact]
    public async Task TryEnqueue_ExactlyAtTheBound_IsQueued()
    {
        (OutboundQueue queue, FakeRelaySocket socket) = Start(o =>
        {
            o.MaxQueueFrames = 2;
            o.MaxQueueBytes = 2048;
        });
        await StallWriterAsync(queue, socket);

        queue.TryEnqueue(Frame(1, 1024)).Should().Be(EnqueueResult.Queued);
        queue.TryEnqueue(Frame(2, 1024)).Should().Be(EnqueueResult.Queued, "the bound is inclusive: only over it is a slow consumer");

        socket.ReleaseSends();
        await socket.WaitForFrameCountAsync(3);
        queue.IsClosing.Should().BeFalse();
        await EndAsync(queue);
    }

    [Fact]
    public async Task RequestClose_WithFlush_SendsQueuedFramesBeforeTheClose()
    {
        (OutboundQueue queue, FakeRelaySocket socket) = Start();
        byte[] first = await StallWriterAsync(queue, socket);
        queue.TryEnqueue(Frame(1));
        queue.TryEnqueue(Frame(2));

        queue.RequestClose(RelayCloseCodes.Normal, "bye", discardQueued: false).Should().BeTrue();
        queue.TryEnqueue(Frame(3)).Should().Be(EnqueueResult.Closing);
        socket.ReleaseSends();

        (await socket.WaitForCloseAsync()).Should().Be(RelayCloseCodes.Normal);
        socket.CloseReason.Should().Be("bye");
        socket.Frames.Should().Equal(Text(first), Text(Frame(1)), Text(Frame(2)));
        socket.Events[^1].Should().Be("close:1000");
        await EndAsync(queue);
        socket.Aborted.Should().BeFalse();
    }

    [Fact]
    public async Task RequestClose_Discarding_SendsNothingMoreThanTheClose()
    {
        (OutboundQueue queue, FakeRelaySocket socket) = Start();
        byte[] first = await StallWriterAsync(queue, socket);
        queue.TryEnqueue(Frame(1));

        queue.RequestClose(RelayCloseCodes.MessageTooBig, "message too big", discardQueued: true);
        socket.ReleaseSends();

        (await socket.WaitForCloseAsync()).Should().Be(RelayCloseCodes.MessageTooBig);
        socket.Frames.Should().Equal(Text(first));
        await EndAsync(queue);
    }

    [Fact]
    public async Task RequestClose_Twice_FirstCodeWins()
    {
        (OutboundQueue queue, FakeRelaySocket socket) = Start();

        queue.RequestClose(RelayCloseCodes.GoingAway, "shutdown", discardQueued: false).Should().BeTrue();
        queue.RequestClose(RelayCloseCodes.Flooding, "flooding", discardQueued: true).Should().BeFalse();

        (await socket.WaitForCloseAsync()).Should().Be(RelayCloseCodes.GoingAway);
        queue.CloseCode.Should().Be(RelayCloseCodes.GoingAway);
        await EndAsync(queue);
    }

    [Fact]
    public async Task RequestClose_SendStuckPastCloseTimeout_AbortsTheSocket()
    {
        (OutboundQueue queue, FakeRelaySocket socket) = Start(o => o.CloseTimeout = TimeSpan.FromMilliseconds(100));
        await StallWriterAsync(queue, socket);

        queue.RequestClose(RelayCloseCodes.Normal, "bye", discardQueued: false);

        await socket.WaitForAbortAsync();
        await queue.Completion.WaitAsync(TestTimeouts.Default);
        socket.CloseCode.Should().BeNull("the close frame could not be sent over a stuck socket");
        queue.TransportEnded();
    }

    [Fact]
    public async Task RequestClose_CloseHandshakeStuckPastCloseTimeout_AbortsTheSocket()
    {
        (OutboundQueue queue, FakeRelaySocket socket) = Start(o => o.CloseTimeout = TimeSpan.FromMilliseconds(100));
        socket.HoldClose();

        queue.RequestClose(RelayCloseCodes.GoingAway, "shutdown", discardQueued: false);

        await socket.WaitForAbortAsync();
        await queue.Completion.WaitAsync(TestTimeouts.Default);
    }

    [Fact]
    public async Task RequestClose_PeerNeverAnswersTheClose_AbortedAfterCloseTimeout()
    {
        (OutboundQueue queue, FakeRelaySocket socket) = Start(o => o.CloseTimeout = TimeSpan.FromSeconds(1));

        queue.RequestClose(RelayCloseCodes.GoingAway, "shutdown", discardQueued: false);

        // The close frame goes out, but the transport never reports the end of the socket. (On a machine loaded enough
        // that the writer does not run within CloseTimeout, the timeout bounds the whole close and only the abort
        // happens: still correct, so the close frame is allowed to be missing, never to come after the abort.)
        await socket.WaitForAbortAsync();
        socket.Events.Should().EndWith("abort");
        socket.Events.Should().BeSubsetOf(new[] { "close:1001", "abort" });
        await queue.Completion.WaitAsync(TestTimeouts.Default);
    }

    [Fact]
    public async Task RequestClose_PeerAnswersTheClose_CompletesWithoutAbort()
    {
        (OutboundQueue queue, FakeRelaySocket socket) = Start(o => o.CloseTimeout = TimeSpan.FromMinutes(5));

        queue.RequestClose(RelayCloseCodes.GoingAway, "shutdown", discardQueued: false);
        await socket.WaitForCloseAsync();
        queue.TransportEnded();

        await queue.Completion.WaitAsync(TestTimeouts.Default);
        socket.Aborted.Should().BeFalse();
    }

    [Fact]
    public async Task CloseSent_CloseFrameWritten_CompletesBeforeTheTransportEnds()
    {
        (OutboundQueue queue, FakeRelaySocket socket) = Start(o => o.CloseTimeout = TimeSpan.FromMinutes(5));

        queue.RequestClose(4321, string.Empty, discardQueued: false);

        await queue.CloseSent.WaitAsync(TestTimeouts.Default);
        socket.CloseCode.Should().Be(4321);
        queue.Completion.IsCompleted.Should().BeFalse("the writer still waits for the transport to see the socket end");
        await EndAsync(queue);
        socket.Aborted.Should().BeFalse();
    }

    [Fact]
    public async Task TransportEnded_WhileSendIsStuck_StopsWriterWithoutAbortOrClose()
    {
        (OutboundQueue queue, FakeRelaySocket socket) = Start(o => o.CloseTimeout = TimeSpan.FromMinutes(5));
        await StallWriterAsync(queue, socket);
        queue.TryEnqueue(Frame(1));

        queue.TransportEnded();

        await queue.Completion.WaitAsync(TestTimeouts.Default);
        queue.IsClosing.Should().BeTrue();
        queue.CloseCode.Should().Be(0, "the client went away first");
        queue.QueuedBytes.Should().Be(0, "frames that will never be sent are released from the accounting");
        socket.CloseCode.Should().BeNull();
        socket.Aborted.Should().BeFalse();
        queue.TryEnqueue(Frame(2)).Should().Be(EnqueueResult.Closing);
    }

    [Fact]
    public async Task Writer_SocketFailsWhileSending_AbortsAndStops()
    {
        (OutboundQueue queue, FakeRelaySocket socket) = Start();
        await StallWriterAsync(queue, socket);

        // The peer resets: the pending send fails with a WebSocketException.
        socket.Abort();

        await queue.Completion.WaitAsync(TestTimeouts.Default);
        queue.TransportEnded();
    }

    [Fact]
    public async Task QueuedBytes_AfterEverythingWasSent_IsZero()
    {
        (OutboundQueue queue, FakeRelaySocket socket) = Start();
        await StallWriterAsync(queue, socket);
        for (int i = 1; i <= 5; i++)
        {
            queue.TryEnqueue(Frame(i, 100));
        }

        queue.QueuedBytes.Should().Be(500);
        socket.ReleaseSends();
        await socket.WaitForFrameCountAsync(6);

        queue.QueuedBytes.Should().Be(0);
        await EndAsync(queue);
    }
}
