using System;
using System.Threading;
using System.Threading.Tasks;
using GroupRelay.Internal;
using Microsoft.Extensions.Logging;

namespace GroupRelay.Transports;

/// <summary>
/// The transport's handle on one accepted connection: the transport feeds it the frames it receives and disposes
/// it when the socket has ended. Created by <see cref="RelayConnectionHandler.AcceptAsync(RelayAdmission, IRelaySocket, System.Threading.CancellationToken)"/>.
/// </summary>
/// <remarks>
/// A transport calls the <c>Receive*</c> methods from its single receive loop, one frame at a time, in order; the
/// session owns the state of that loop (the rate limit, the sends in flight through the backplane, the watch list).
/// Everything the session sends goes through the connection's writer loop.
/// </remarks>
public sealed class RelaySession : IAsyncDisposable
{
    private readonly RequestDispatcher _dispatcher;
    private readonly RelayLifecycle _lifecycle;
    private readonly PresenceWatchers _watchers;
    private readonly ILogger _logger;
    private readonly GroupRelayOptions _options;
    private readonly CancellationTokenSource _ended = new();
    private int _disposed;

    internal RelaySession(RelayConnection connection, RequestDispatcher dispatcher, RelayLifecycle lifecycle, PresenceWatchers watchers, GroupRelayOptions options, ILogger logger)
    {
        Connection = connection;
        _dispatcher = dispatcher;
        _lifecycle = lifecycle;
        _watchers = watchers;
        _options = options;
        _logger = logger;
        RateLimiter = options.RateLimitEnabled
            ? new TokenBucket(options.RateLimitPerSecond, options.RateLimitBurst, options.FloodRejectionsPerSecond)
            : null;
        Watches = new WatchList(connection);
    }

    /// <summary>The connection as the online list holds it.</summary>
    public RelayConnection Connection { get; }

    /// <summary>True once the server or the client started closing; the transport should keep receiving until the socket ends.</summary>
    public bool IsClosing => Connection.IsClosing;

    /// <summary>The largest client frame the transport may pass in, in bytes; a larger one must go to <see cref="ReceiveTooLarge"/>.</summary>
    public int MaxFrameBytes => _options.MaxFrameBytes;

    /// <summary>The connection's request rate limit, or null when it is off. Used by the receive loop only.</summary>
    internal TokenBucket? RateLimiter { get; }

    /// <summary>The users this connection watches (PROTOCOL.md section 3, <c>watch</c>); guarded by its own lock.</summary>
    internal WatchList Watches { get; }

    /// <summary>
    /// The answers (ack or error) of this connection's sends still in flight, chained in request order; null when there
    /// are none. Read and written only by the receive loop.
    /// </summary>
    internal Task? PendingSends { get; set; }

    /// <summary>How many sends are in flight (decremented, from any thread, as each is answered).</summary>
    internal int PipelinedSends;

    /// <summary>Handles one complete text frame.</summary>
    /// <param name="utf8Json">The frame payload; only read before the returned task completes.</param>
    /// <param name="cancellationToken">Cancels the handling.</param>
    /// <returns>A task that completes when the receive loop may pass the next frame.</returns>
    public ValueTask ReceiveTextAsync(ReadOnlyMemory<byte> utf8Json, CancellationToken cancellationToken = default)
        => _dispatcher.HandleTextAsync(this, utf8Json, cancellationToken.CanBeCanceled ? cancellationToken : _ended.Token);

    /// <summary>Handles one binary frame: answered with a <c>bad_request</c> error, the connection stays open (PROTOCOL.md section 1).</summary>
    public void ReceiveBinary() => _dispatcher.HandleBinary(this);

    /// <summary>The client sent a frame larger than <see cref="MaxFrameBytes"/>: the connection is closed with 1009 (PROTOCOL.md section 1).</summary>
    public void ReceiveTooLarge()
    {
        if (Connection.Outbound.RequestClose(RelayCloseCodes.MessageTooBig, "message too big", discardQueued: true))
        {
            GroupRelayLog.FrameTooLarge(_logger, Connection.ConnectionId, Connection.UserId, _options.MaxFrameBytes);
        }
    }

    /// <summary>
    /// The client did not answer a keep-alive ping within <see cref="GroupRelayOptions.KeepAliveInterval"/> +
    /// <see cref="GroupRelayOptions.KeepAliveTimeout"/> and the transport dropped its socket: records why (a log line, the
    /// <c>grouprelay.keepalive.timeouts</c> metric, close code 1006 for the connection). Call it before
    /// <see cref="DisposeAsync"/>, which then takes the connection offline as for any other end.
    /// </summary>
    public void ReceiveKeepAliveTimeout()
    {
        // Logged and counted even when the connection was already closing (a send to the dead peer may have failed
        // first): the missing pong is why it ended.
        Connection.Outbound.KeepAliveTimedOut();
        GroupRelayLog.KeepAliveTimedOut(_logger, Connection.ConnectionId, Connection.UserId, _options.KeepAliveInterval, _options.KeepAliveTimeout);
    }

    /// <summary>
    /// The client sent a close frame: the frames already queued are flushed and the close is answered with the same
    /// code. Completes when the answer is sent (bounded by <see cref="GroupRelayOptions.CloseTimeout"/>).
    /// </summary>
    /// <param name="closeCode">The client's close code, or null when it sent none.</param>
    /// <returns>A task that completes when the answering close frame was sent or given up on.</returns>
    public Task ReceiveCloseAsync(int? closeCode)
    {
        Connection.Outbound.RequestClose(closeCode is int code && code is >= 1000 and < 5000 and not 1005 and not 1006 and not 1015 ? code : RelayCloseCodes.Normal, string.Empty, discardQueued: false);

        // Not Completion: that waits for the transport to report the end of the socket, which the transport does only
        // after this returns (it calls this from its receive loop), so it would always run into the close timeout.
        return Connection.Outbound.CloseSent;
    }

    /// <summary>Asks the server side to close the connection with a code of <see cref="RelayCloseCodes"/>.</summary>
    /// <param name="closeCode">The close code.</param>
    /// <param name="reason">A short reason, at most 123 bytes of UTF-8.</param>
    public void Close(int closeCode, string reason) => Connection.Outbound.RequestClose(closeCode, reason, discardQueued: false);

    /// <summary>The socket has ended: removes the connection from the online list, the group index and the watchers.</summary>
    /// <returns>A task that completes when the connection is gone from every index and the others were told.</returns>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _ended.Cancel();
        _watchers.Remove(Watches);
        await _lifecycle.DisconnectAsync(Connection).ConfigureAwait(false);
        _ended.Dispose();
    }
}
