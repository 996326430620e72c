using System;
using System.Threading;
using System.Threading.Tasks;
using GroupRelay.ScaleOut;
using StackExchange.Redis;

namespace GroupRelay.Internal;

/// <summary>
/// A message waiting to be published. <see cref="Done"/> completes with its outcome once the seq is known and, when the
/// sender waits for its echo, the echo was delivered (or given up on): whichever comes last completes it. A message
/// that Redis did not publish (a repeated idempotency key, one used for another group, or Redis unavailable) completes at once with
/// <see cref="Settle"/>: there is no echo to wait for.
/// </summary>
/// <remarks>
/// Thread-safety in one sentence: each wait is released exactly once (the seq by the one batch that publishes the
/// message, the echo by whoever removes it from <see cref="EchoTracker"/>), and the interlocked decrement orders the
/// seq's write before the read of whichever release comes last.
/// </remarks>
internal sealed class PendingPublish(long publishId, byte[] tail, int bodyLength, OutgoingMessage message, long? echoWaitStarted, (RedisKey Sent, RedisKey Used)? idempotencyKeys = null)
{
    private long _seq;

    // What is still awaited: the seq, and the echo if there is one.
    private int _waits = echoWaitStarted is null ? 1 : 2;

    /// <summary>The message as a batch holds it, length first (see <see cref="RedisPayload.FramedMessageTail"/>).</summary>
    public byte[] Tail { get; } = tail;

    /// <summary>The body, the tail's last bytes.</summary>
    public ReadOnlySpan<byte> Body => Tail.AsSpan(Tail.Length - bodyLength);

    public long PublishId { get; } = publishId;

    /// <summary>The message's fields besides its body (its ts is also stored with its stream entry, for the age bound).</summary>
    public OutgoingMessage Message { get; } = message;

    /// <summary>
    /// The Redis keys of the sender's idempotency key, or null without one: the seq it got in the group (group slot),
    /// and the group it went to (per user).
    /// </summary>
    public (RedisKey Sent, RedisKey Used)? IdempotencyKeys { get; } = idempotencyKeys;

    /// <summary>Whether the sender waits for its echo.</summary>
    public bool WaitsForEcho { get; } = echoWaitStarted is not null;

    /// <summary>When the sender started to wait for its echo (Environment.TickCount64); only read for messages that wait.</summary>
    public long EchoWaitStarted { get; } = echoWaitStarted ?? 0;

    public TaskCompletionSource<PublishOutcome> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void SeqKnown(long seq)
    {
        Volatile.Write(ref _seq, seq);
        Release();
    }

    public void EchoDone() => Release();

    /// <summary>Nothing was published (a duplicate or a conflict): completes with <paramref name="outcome"/> without waiting for an echo.</summary>
    public void Settle(PublishOutcome outcome) => Done.TrySetResult(outcome);

    private void Release()
    {
        if (Interlocked.Decrement(ref _waits) == 0)
        {
            Done.TrySetResult(new PublishOutcome(Volatile.Read(ref _seq)));
        }
    }
}
