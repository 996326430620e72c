using System;
using System.Buffers;
using System.Threading;
using System.Threading.Channels;
using System.Threading.Tasks;
using GroupRelay.Transports;
using Microsoft.Extensions.Logging;

namespace GroupRelay.Internal;

/// <summary>The outcome of <see cref="OutboundQueue.TryEnqueue"/>.</summary>
internal enum EnqueueResult
{
    Queued,
    Overflow,
    Closing,
}

/// <summary>
/// A connection's bounded outbound queue and its single writer loop. Any thread may enqueue; only the writer
/// loop calls the socket, so a socket never sees two concurrent sends and a slow socket only ever holds up itself.
/// Frames already queued are coalesced into one WebSocket frame, separated by a line feed, up to MaxFrameBytes.
/// </summary>
/// <remarks>
/// Thread-safety in one sentence: producers only touch the channel and one interlocked counter, and every other
/// field is written once, under a compare-exchange on <see cref="_state"/>, before the channel is completed.
/// </remarks>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "The abort source must outlive every caller of TransportEnded; it holds no unmanaged resource once its timer fired or was cancelled.")]
internal sealed class OutboundQueue
{
    private const int Open = 0;
    private const int Closing = 1;

    // What is queued, frames and bytes packed in one long so that a delivery costs one interlocked add, not two:
    // bytes in the low 40 bits, frames above. Options cap a queue at 1,000,000 frames and int.MaxValue bytes, and a
    // producer that overshoots takes its add back at once, so neither field can carry into the other.
    private const int FrameShift = 40;
    private const long ByteMask = (1L << FrameShift) - 1;
    private const long OneFrame = 1L << FrameShift;

    private readonly Channel<ReadOnlyMemory<byte>> _channel = Channel.CreateUnbounded<ReadOnlyMemory<byte>>(
        new UnboundedChannelOptions { SingleReader = true, SingleWriter = false, AllowSynchronousContinuations = false });

    private readonly IRelaySocket _socket;
    private readonly GroupRelayOptions _options;
    private readonly ILogger _logger;
    // RFC 6455 section 7.4.1: the code that names a connection closed without a close frame; never sent, only recorded.
    private const int AbnormalClosure = 1006;
    private readonly RelayMetrics? _metrics;
    private readonly string _connectionId;
    private readonly string _userId;
    private readonly CancellationTokenSource _abort = new();
    private readonly TaskCompletionSource _transportEnded = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _closeSent = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _state;
    private long _queued;

    // Environment.TickCount64 when the writer entered the send it is inside, or 0 between sends: how long the reader
    // has been stuck. Milliseconds are plenty for a timeout of seconds, and the tick count is the cheapest clock there
    // is: it is read once per send of every connection, on the fan-out path.
    private long _sendStarted;
    private int _closeCode;
    private string _closeReason = string.Empty;
    private volatile bool _discard;
    private Task _writer = Task.CompletedTask;

    public OutboundQueue(IRelaySocket socket, GroupRelayOptions options, ILogger logger, RelayMetrics? metrics, string connectionId, string userId)
    {
        _socket = socket;
        _options = options;
        _logger = logger;
        _metrics = metrics;
        _connectionId = connectionId;
        _userId = userId;
    }

    /// <summary>The close code the server chose, or 0 while open or when the client went away first.</summary>
    public int CloseCode => Volatile.Read(ref _closeCode);

    public string CloseReason => _closeReason;

    public bool IsClosing => Volatile.Read(ref _state) != Open;

    public long QueuedBytes => Interlocked.Read(ref _queued) & ByteMask;

    /// <summary>
    /// Whether the connection is behind: more queued than <see cref="GroupRelayOptions.MaxQueueBytes"/> or
    /// <see cref="GroupRelayOptions.MaxQueueFrames"/> (a slow consumer on its way to 4001 unless its reader catches up).
    /// </summary>
    public bool IsBehind
    {
        get
        {
            long queued = Interlocked.Read(ref _queued);
            return (queued >> FrameShift) > _options.MaxQueueFrames || (queued & ByteMask) > _options.MaxQueueBytes;
        }
    }

    /// <summary>Completes when the writer loop has ended: the close handshake finished, or it gave up.</summary>
    public Task Completion => _writer;

    /// <summary>
    /// Completes when the writer has sent the close frame, or stopped without sending it. Unlike <see cref="Completion"/>
    /// it does not wait for the transport to report the end of the socket.
    /// </summary>
    public Task CloseSent => _closeSent.Task;

    public void Start() => _writer = Task.Run(RunAsync);

    /// <summary>
    /// Queues one frame. Nothing is dropped silently: a frame refused because the connection is closing counts in
    /// <c>grouprelay.drops</c> (<c>connection_closing</c>), and the overflow that makes this connection a slow consumer
    /// closes it with 4001, logs it and counts it (<c>slow_consumer</c>).
    /// </summary>
    /// <remarks>
    /// A slow consumer is judged by its reader, not by a burst the server itself let in (PROTOCOL.md section 5, 4001):
    /// over <see cref="GroupRelayOptions.MaxQueueBytes"/> or <see cref="GroupRelayOptions.MaxQueueFrames"/> the
    /// connection is behind, and it is closed only when its writer has been stuck in one send for
    /// <see cref="GroupRelayOptions.SlowConsumerTimeout"/>; a reader that keeps taking data catches up. Four times either
    /// bound closes it at once, whatever the writer does, so what one connection holds stays bounded.
    /// </remarks>
    public EnqueueResult TryEnqueue(ReadOnlyMemory<byte> frame)
    {
        if (Volatile.Read(ref _state) != Open)
        {
            return Refused();
        }

        long added = OneFrame + frame.Length;
        long queued = Interlocked.Add(ref _queued, added);
        long frames = queued >> FrameShift;
        long bytes = queued & ByteMask;
        if ((frames > _options.MaxQueueFrames || bytes > _options.MaxQueueBytes)
            && (frames > HardBoundFactor * (long)_options.MaxQueueFrames || bytes > HardBoundFactor * (long)_options.MaxQueueBytes || WriterStuck()))
        {
            Interlocked.Add(ref _queued, -added);
            if (!RequestClose(RelayCloseCodes.SlowConsumer, "slow consumer", discardQueued: true))
            {
                return Refused();
            }

            GroupRelayLog.SlowConsumer(_logger, _connectionId, _userId, _options.MaxQueueBytes, _options.MaxQueueFrames);
            _metrics?.Dropped(DropReasons.SlowConsumer);
            return EnqueueResult.Overflow;
        }

        if (!_channel.Writer.TryWrite(frame))
        {
            Interlocked.Add(ref _queued, -added);
            return Refused();
        }

        return EnqueueResult.Queued;
    }

    /// <summary>How far over its bounds a connection that is behind may go while its reader keeps taking data.</summary>
    internal const int HardBoundFactor = 4;

    private bool WriterStuck()
    {
        long started = Volatile.Read(ref _sendStarted);
        return started != 0 && Environment.TickCount64 - started >= (long)_options.SlowConsumerTimeout.TotalMilliseconds;
    }

    // Around every send of the writer loop (once per coalesced frame, not per delivery): what WriterStuck reads. Not an
    // async method of its own, so a send that completes at once (the common case) costs no extra state machine.
    private ValueTask SendAsync(ReadOnlyMemory<byte> frame, CancellationToken abort)
    {
        Volatile.Write(ref _sendStarted, Math.Max(1, Environment.TickCount64));
        ValueTask sending = _socket.SendAsync(frame, abort);
        if (sending.IsCompletedSuccessfully)
        {
            Volatile.Write(ref _sendStarted, 0);
            return ValueTask.CompletedTask;
        }

        return AwaitSendAsync(sending);
    }

    private async ValueTask AwaitSendAsync(ValueTask sending)
    {
        try
        {
            await sending.ConfigureAwait(false);
        }
        finally
        {
            Volatile.Write(ref _sendStarted, 0);
        }
    }

    private EnqueueResult Refused()
    {
        _metrics?.Dropped(DropReasons.ConnectionClosing);
        return EnqueueResult.Closing;
    }

    /// <summary>
    /// Stops accepting frames and has the writer send a close frame after what is queued (or instead of it, when
    /// <paramref name="discardQueued"/>). Returns false when the connection was already closing.
    /// </summary>
    public bool RequestClose(int closeCode, string reason, bool discardQueued)
    {
        if (Interlocked.CompareExchange(ref _state, Closing, Open) != Open)
        {
            return false;
        }

        _closeReason = reason;
        _discard = discardQueued;
        Volatile.Write(ref _closeCode, closeCode);
        _channel.Writer.TryComplete();

        // Bounds the whole close: a send stuck on a dead peer is cancelled and the socket aborted.
        _abort.CancelAfter(_options.CloseTimeout);
        return true;
    }

    /// <summary>
    /// The transport dropped the socket for a reason of its own (no close frame either way): records that reason as the
    /// connection's close, unless it was already closing, and stops the writer at once.
    /// </summary>
    public bool TransportEnded(int closeCode, string reason)
    {
        bool recorded = Interlocked.CompareExchange(ref _state, Closing, Open) == Open;
        if (recorded)
        {
            _closeReason = reason;
            Volatile.Write(ref _closeCode, closeCode);
        }

        TransportEnded();
        return recorded;
    }

    /// <summary>The peer did not answer a keep-alive ping in time and the transport dropped it (1006: no close frame).</summary>
    public bool KeepAliveTimedOut()
    {
        _metrics?.KeepAliveTimedOut();
        return TransportEnded(AbnormalClosure, "keep-alive timeout");
    }

    /// <summary>Called when the transport saw the socket end: stops the writer at once.</summary>
    public void TransportEnded()
    {
        Interlocked.CompareExchange(ref _state, Closing, Open);
        _transportEnded.TrySetResult();
        _channel.Writer.TryComplete();
        _abort.Cancel();
    }

    private async Task RunAsync()
    {
        ChannelReader<ReadOnlyMemory<byte>> reader = _channel.Reader;
        CancellationToken abort = _abort.Token;
        try
        {
            while (true)
            {
                // Wait without the token: a single-reader channel then reuses one waiter for the life of the
                // connection, where a cancellable wait allocates a new one (~100 B) at every wake-up, i.e. per
                // delivery. Every path that cancels _abort completes the channel first, so the wait still ends at once.
                bool more = await reader.WaitToReadAsync().ConfigureAwait(false);
                if (abort.IsCancellationRequested)
                {
                    // The cancelled exit, without throwing: every disconnect comes this way (TransportEnded), and an
                    // exception per connection is the dearest part of closing one.
                    Aborted();
                    return;
                }

                if (!more)
                {
                    break;
                }

                while (reader.TryRead(out ReadOnlyMemory<byte> frame))
                {
                    Dequeued(frame.Length);
                    if (_discard)
                    {
                        continue;
                    }

                    if (!reader.TryPeek(out ReadOnlyMemory<byte> next) || frame.Length + 1 + next.Length > _options.MaxFrameBytes)
                    {
                        await SendAsync(frame, abort).ConfigureAwait(false);
                        continue;
                    }

                    await SendCoalescedAsync(reader, frame, abort).ConfigureAwait(false);
                }
            }

            if (CloseCode != 0 && !_transportEnded.Task.IsCompleted)
            {
                await _socket.CloseAsync(CloseCode, _closeReason, abort).ConfigureAwait(false);
                _closeSent.TrySetResult();

                // The transport ends the connection when its receive loop sees the client's reply (a close the server
                // started) or right after the reply is sent (a close the client started: it waits on CloseSent).
                await _transportEnded.Task.WaitAsync(abort).ConfigureAwait(false);
            }

            GroupRelayLog.WriterStopped(_logger, _connectionId, "closed");
        }
        catch (OperationCanceledException) when (abort.IsCancellationRequested)
        {
            Aborted();
        }
        catch (Exception ex)
        {
            // The socket failed under us (peer reset, transport disposed): the transport's receive loop ends too.
            GroupRelayLog.WriterFailed(_logger, _connectionId, ex);
            _socket.Abort();
        }
        finally
        {
            _closeSent.TrySetResult();

            // Release the accounting of frames that will never be sent.
            while (reader.TryRead(out ReadOnlyMemory<byte> frame))
            {
                Dequeued(frame.Length);
            }
        }
    }

    private void Aborted()
    {
        if (!_transportEnded.Task.IsCompleted)
        {
            GroupRelayLog.CloseTimedOut(_logger, _connectionId, _options.CloseTimeout);
            _socket.Abort();
        }
    }

    private async ValueTask SendCoalescedAsync(ChannelReader<ReadOnlyMemory<byte>> reader, ReadOnlyMemory<byte> first, CancellationToken abort)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(_options.MaxFrameBytes);
        try
        {
            first.Span.CopyTo(buffer);
            int length = first.Length;
            int frames = 0;
            long bytes = 0;
            while (!_discard && reader.TryPeek(out ReadOnlyMemory<byte> next) && length + 1 + next.Length <= _options.MaxFrameBytes && reader.TryRead(out next))
            {
                frames++;
                bytes += next.Length;
                buffer[length++] = (byte)'\n';
                next.Span.CopyTo(buffer.AsSpan(length));
                length += next.Length;
            }

            // One accounting update per coalesced batch rather than per frame.
            Dequeued(frames, bytes);

            await SendAsync(buffer.AsMemory(0, length), abort).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private void Dequeued(int bytes) => Dequeued(1, bytes);

    private void Dequeued(int frames, long bytes)
    {
        if (frames > 0)
        {
            Interlocked.Add(ref _queued, -((frames * OneFrame) + bytes));
        }
    }
}
