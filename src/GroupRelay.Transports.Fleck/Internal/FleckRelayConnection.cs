using System;
using System.Threading;
using System.Threading.Channels;
using System.Threading.Tasks;
using Fleck;
using Fleck.Handlers;
using GroupRelay.Transports;

namespace GroupRelay.Transports.Fleck.Internal;

/// <summary>
/// One Fleck connection bound to a <see cref="RelaySession"/>: adapts <see cref="IWebSocketConnection"/> to
/// <see cref="IRelaySocket"/> and moves the frames Fleck reads, in order, to the session. All protocol logic is in
/// GroupRelay.Core.
/// </summary>
/// <remarks>
/// <para>
/// Fleck parses frames on its I/O path and calls back synchronously; this class only queues there, and one loop per
/// connection (<see cref="RunAsync"/>) authenticates, accepts and feeds the session, so the session's
/// <c>Receive*</c> calls stay sequential and Fleck's thread never blocks.
/// </para>
/// <para>
/// Two hooks on Fleck's Hybi13 handler (a public <see cref="ComposableHandler"/>) make the wire match the ASP.NET Core
/// transport: <see cref="ComposableHandler.ReceiveData"/> reads the frames with <see cref="Rfc6455FrameReader"/> (Fleck
/// 1.2.0's parser lets RFC 6455 section 5 violations through and breaks on a ping between fragments), hands over the
/// client's close frame (Fleck answers it at once with 1000 and drops the frames still queued,
/// WebSocketConnection.cs:106-128 and Hybi13Handler.cs:127-141) and text payloads as the UTF-8 bytes received; <see cref="ComposableHandler.CloseFrame"/> adds the close reason
/// (Fleck's close frame carries only the code, Hybi13Handler.cs:22).
/// </para>
/// <para>
/// The connection ends exactly once (<see cref="Ended"/>), whichever comes first: Fleck's <c>OnClose</c>, its
/// <c>OnError</c> (which Fleck does not always follow with <c>OnClose</c>: WebSocketConnection.cs:113-114 after a
/// reset), a failed send, or <see cref="Abort"/>. The session is disposed once, by <see cref="RunAsync"/>.
/// </para>
/// </remarks>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "_ended is only cancelled, never given a timer or a wait handle; Fleck may report OnClose after the connection finished, so it is never disposed.")]
internal sealed partial class FleckRelayConnection : IRelaySocket
{
    // State and lifecycle (attach, run, end, finish); the other concerns are in the .Authentication, .Receive, .Send,
    // .KeepAlive and .Close parts.

    // Fleck keeps reading while the session works (it has no back-pressure), so what waits for the session has a
    // bound: 16 frames of MaxFrameBytes, at least 1 MiB. Beyond it the client counts as flooding (4008).
    private const int MaxPendingFrames = 16;
    private const long MinPendingBytes = 1024 * 1024;

    private const int New = 0;
    private const int Running = 1;
    private const int Done = 2;

    private readonly IWebSocketConnection _socket;
    private readonly FleckRelayServer _server;
    private readonly Channel<Inbound> _inbound = Channel.CreateUnbounded<Inbound>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = false });
    private readonly CancellationTokenSource _ended = new();
    private readonly TaskCompletionSource _transportClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Rfc6455FrameReader _frames;
    private readonly int _maxFrameBytes;
    private readonly long _maxPendingBytes;
    private string _connectionId;
    private string _endReason = "closed";
    private string _closeReason = string.Empty;
    private long _pendingBytes;
    private int _phase;
    private int _endedFlag;
    private bool _discarding;
    private volatile bool _flooded;

    public FleckRelayConnection(IWebSocketConnection socket, FleckRelayServer server)
    {
        _socket = socket;
        _server = server;
        _maxFrameBytes = server.Handler.Options.MaxFrameBytes;
        _frames = new Rfc6455FrameReader(_maxFrameBytes);
        _maxPendingBytes = Math.Max((long)_maxFrameBytes * MaxPendingFrames, MinPendingBytes);
        _connectionId = "fleck-" + socket.ConnectionInfo.Id.ToString("N");
    }

    /// <summary>Completes when the connection is over: its session disposed (if it had one) and its socket closed.</summary>
    public Task Finished => _finished.Task;

    /// <summary>
    /// Called from Fleck's per-connection initializer, after the handshake request was parsed and before the
    /// handshake is answered. Returns false for a connection this transport cannot serve (not RFC 6455).
    /// </summary>
    public bool Attach()
    {
        string? version = _socket.ConnectionInfo.Headers.TryGetValue("Sec-WebSocket-Version", out string? v) ? v : null;
        if (_socket is not WebSocketConnection { Handler: ComposableHandler handler } || version is not ("13" or "8" or "7"))
        {
            FleckTransportLog.UnsupportedVersion(_server.Logger, _socket.ConnectionInfo.ClientIpAddress, version);
            return false;
        }

        handler.ReceiveData = OnData;
        handler.CloseFrame = BuildCloseFrame;
        _socket.OnOpen = OnOpen;
        _socket.OnClose = OnClose;
        _socket.OnError = OnError;
        return true;
    }

    private void OnOpen()
    {
        StartKeepAlive();
        if (Interlocked.CompareExchange(ref _phase, Running, New) == New)
        {
            _ = Task.Run(RunAsync);
        }
    }

    private async Task RunAsync()
    {
        RelaySession? session = null;
        try
        {
            if (RefuseIfStopping() || RefuseForeignOrigin())
            {
                return;
            }

            string? userId = await AuthenticateAsync().ConfigureAwait(false);
            if (userId is null || _ended.IsCancellationRequested || RefuseIfStopping())
            {
                return;
            }

            // Fleck has accepted the socket already, so a full connection limit is refused with 1013 right after open.
            RelayAdmission admission = _server.Handler.Admit(userId, _socket.ConnectionInfo.ClientIpAddress);
            session = await _server.Handler.AcceptAsync(admission, this, _ended.Token).ConfigureAwait(false);
            _connectionId = session.Connection.ConnectionId;
            if (_server.IsStopping)
            {
                // Registered after the server's close-all took its snapshot: close it the same way.
                session.Close(RelayCloseCodes.GoingAway, "server shutting down");
            }

            await ReceiveLoopAsync(session).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !_ended.IsCancellationRequested)
        {
            FleckTransportLog.ReceiveLoopFailed(_server.Logger, _connectionId, ex);
            Abort();
        }
        catch (OperationCanceledException)
        {
            // The connection ended while it was being accepted.
        }
        finally
        {
            await FinishAsync(session).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The transport is over: stop receiving and let <see cref="RunAsync"/> dispose the session. Idempotent: true for
    /// the call that ended it, whose <paramref name="reason"/> counts.
    /// </summary>
    private bool Ended(string reason)
    {
        if (Interlocked.Exchange(ref _endedFlag, 1) != 0)
        {
            return false;
        }

        _endReason = reason;
        _inbound.Writer.TryComplete();

        // Often on Fleck's I/O thread: the callbacks (the authenticator's, the membership source's) run elsewhere.
        _ = _ended.CancelAsync();
        if (Interlocked.CompareExchange(ref _phase, Done, New) == New)
        {
            // Never opened: there is no loop to finish the connection.
            _ = FinishAsync(session: null);
        }

        return true;
    }

    private async Task FinishAsync(RelaySession? session)
    {
        try
        {
            if (string.Equals(_endReason, KeepAliveTimeoutReason, StringComparison.Ordinal))
            {
                ReportKeepAliveTimeout(session);
            }

            if (session is not null)
            {
                FleckTransportLog.SessionEnded(_server.Logger, _connectionId, _endReason);
                await session.DisposeAsync().ConfigureAwait(false);
            }

            // After a read error on a broken connection, Fleck reports OnError, finds the connection unavailable and
            // neither closes the socket nor reports OnClose (WebSocketConnection.cs:173-200, 111-114): close it here.
            if (!_transportClosed.Task.IsCompleted && _socket is WebSocketConnection { Socket.Connected: false })
            {
                CloseTcp();
            }

            // A close frame Fleck is still sending (after a protocol error, say) gets its time, then the socket is closed.
            if (!_transportClosed.Task.IsCompleted)
            {
                try
                {
                    await _transportClosed.Task.WaitAsync(_server.Handler.Options.CloseTimeout).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    CloseTcp();
                }
            }
        }
        finally
        {
            _server.Remove(this);
            _finished.TrySetResult();
        }
    }
}
