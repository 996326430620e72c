using System;
using System.Collections.Generic;
using System.Net.Sockets;
using System.Text;
using System.Text.Unicode;
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
/// transport: <see cref="ComposableHandler.ReceiveData"/> hands over the client's close frame (Fleck 1.2.0 answers it
/// at once with 1000 and drops the frames still queued, WebSocketConnection.cs:106-128 and Hybi13Handler.cs:127-141)
/// and text payloads as the UTF-8 bytes received; <see cref="ComposableHandler.CloseFrame"/> adds the close reason
/// (Fleck's close frame carries only the code, Hybi13Handler.cs:22).
/// </para>
/// <para>
/// The connection ends exactly once (<see cref="Ended"/>), whichever comes first: Fleck's <c>OnClose</c>, its
/// <c>OnError</c> (which Fleck does not always follow with <c>OnClose</c>: WebSocketConnection.cs:113-114 after a
/// reset), a failed send, or <see cref="Abort"/>. The session is disposed once, by <see cref="RunAsync"/>.
/// </para>
/// </remarks>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "_ended is only cancelled, never given a timer or a wait handle; Fleck may report OnClose after the connection finished, so it is never disposed.")]
internal sealed class FleckRelayConnection : IRelaySocket
{
    // Largest Hybi13 frame header: 2 bytes, 8 bytes of extended length, 4 bytes of mask.
    private const int MaxFrameHeaderBytes = 14;

    // A close reason is at most 123 bytes of UTF-8 (RFC 6455 section 5.5: control frame payload <= 125).
    private const int MaxCloseReasonBytes = 123;

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
    private readonly ReadState _readState = new();
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
        _maxPendingBytes = Math.Max((long)_maxFrameBytes * MaxPendingFrames, MinPendingBytes);
        _connectionId = "fleck-" + socket.ConnectionInfo.Id.ToString("N");
    }

    private enum InboundKind
    {
        Text,
        Binary,
        TooLarge,
        Close,
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

    /// <summary>Queues a keep-alive ping, next to the writer loop's sends (Fleck sends pongs the same way).</summary>
    public void SendPing()
    {
        if (Volatile.Read(ref _phase) != Running || !_socket.IsAvailable)
        {
            return;
        }

        try
        {
            // SocketWrapper.Send returns null instead of a task once the socket is closed (SocketWrapper.cs:170-171).
            _socket.SendPing(Array.Empty<byte>())?.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
        catch (Exception)
        {
            // Runs on a timer: a connection that closed in between reports its end through OnClose, not here.
        }
    }

    /// <inheritdoc />
    public async ValueTask SendAsync(ReadOnlyMemory<byte> utf8Text, CancellationToken cancellationToken = default)
    {
        if (!_socket.IsAvailable)
        {
            // Fleck would log a warning and fault the task (WebSocketConnection.cs:85-93); the result is the same.
            throw new ConnectionNotAvailableException("The Fleck connection is closing or closed.");
        }

        // Send(string) sends a text frame; Send(byte[]) would send a binary one. Fleck encodes the string again.
        Task? send = _socket.Send(Encoding.UTF8.GetString(utf8Text.Span))
            ?? throw new ConnectionNotAvailableException("The Fleck socket is closed.");
        await send.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public ValueTask CloseAsync(int closeCode, string reason, CancellationToken cancellationToken = default)
    {
        CloseTransport(closeCode, reason);
        return default;
    }

    /// <inheritdoc />
    public void Abort()
    {
        Ended("aborted");
        CloseTcp();
    }

    /// <summary>Closes the connection with a close frame: Fleck sends it, then closes the TCP connection (no wait for the reply).</summary>
    private void CloseTransport(int closeCode, string reason)
    {
        if (!_socket.IsAvailable)
        {
            // Already closing or gone: Fleck's Close would do nothing (WebSocketConnection.cs:113-114).
            Ended("closed");
            return;
        }

        Volatile.Write(ref _closeReason, reason ?? string.Empty);
        _socket.Close(closeCode);
    }

    /// <summary>Fleck has no abort: close the TCP socket under it, without a close frame.</summary>
    private void CloseTcp()
    {
        if (_socket is WebSocketConnection { Socket: { } tcp })
        {
            try
            {
                tcp.Close();
            }
            catch (ObjectDisposedException)
            {
            }
        }

        _transportClosed.TrySetResult();
    }

    private void OnOpen()
    {
        if (Interlocked.CompareExchange(ref _phase, Running, New) == New)
        {
            _ = Task.Run(RunAsync);
        }
    }

    private void OnClose()
    {
        ShutdownSend();
        _transportClosed.TrySetResult();
        Ended("closed");
    }

    /// <summary>
    /// Fleck calls OnClose right before it closes the socket, while its read is still pending
    /// (WebSocketConnection.cs:221-229). .NET closes a socket whose pending operations it had to cancel abortively,
    /// with a reset that can overtake the close frame just sent, unless the send side was shut down first; so it is
    /// shut down here, and the client sees the close frame, then an orderly end. Not reachable under TLS (wss).
    /// </summary>
    private void ShutdownSend()
    {
        if (_socket is WebSocketConnection { Socket.Stream: NetworkStream { Socket: { } tcp } })
        {
            try
            {
                tcp.Shutdown(SocketShutdown.Send);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                // Already reset or closed: nothing left to keep orderly.
            }
        }
    }

    private void OnError(Exception exception)
    {
        FleckTransportLog.SocketError(_server.Logger, _connectionId, exception);
        Ended("error");
    }

    /// <summary>The transport is over: stop receiving and let <see cref="RunAsync"/> dispose the session. Idempotent.</summary>
    private void Ended(string reason)
    {
        if (Interlocked.Exchange(ref _endedFlag, 1) != 0)
        {
            return;
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
    }

    private async Task RunAsync()
    {
        RelaySession? session = null;
        try
        {
            if (RefuseIfStopping())
            {
                return;
            }

            string? userId = await AuthenticateAsync().ConfigureAwait(false);
            if (userId is null || _ended.IsCancellationRequested || RefuseIfStopping())
            {
                return;
            }

            session = await _server.Handler.AcceptAsync(userId, this, _ended.Token).ConfigureAwait(false);
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

    private bool RefuseIfStopping()
    {
        if (!_server.IsStopping)
        {
            return false;
        }

        FleckTransportLog.RefusedWhileStopping(_server.Logger, _socket.ConnectionInfo.ClientIpAddress);
        CloseTransport(RelayCloseCodes.GoingAway, "server shutting down");
        return true;
    }

    private async Task<string?> AuthenticateAsync()
    {
        FleckRelayServerOptions options = _server.Options;
        IWebSocketConnectionInfo info = _socket.ConnectionInfo;
        string? userId;
        try
        {
            userId = options.AuthenticateAsync is { } authenticateAsync
                ? await authenticateAsync(info, _ended.Token).ConfigureAwait(false)
                : options.Authenticate!(info);
        }
        catch (OperationCanceledException) when (_ended.IsCancellationRequested)
        {
            return null;
        }
        catch (Exception ex)
        {
            string path = PathWithoutQuery(info.Path);
            FleckTransportLog.AuthenticatorFailed(_server.Logger, info.ClientIpAddress, path, ex);
            CloseTransport(RelayCloseCodes.InternalError, "internal error");
            return null;
        }

        if (userId is null && !_ended.IsCancellationRequested)
        {
            // Never the query: it may hold the token.
            string path = PathWithoutQuery(info.Path);
            FleckTransportLog.Unauthorized(_server.Logger, info.ClientIpAddress, path);
            CloseTransport(RelayCloseCodes.Unauthorized, "unauthorized");
        }

        return userId;
    }

    /// <summary>Feeds the session the frames Fleck read, in order, until the transport ends.</summary>
    private async Task ReceiveLoopAsync(RelaySession session)
    {
        ChannelReader<Inbound> reader = _inbound.Reader;
        bool stopped = false;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (reader.TryRead(out Inbound frame))
            {
                Interlocked.Add(ref _pendingBytes, -frame.Length);
                if (!stopped && _flooded)
                {
                    stopped = true;
                    session.Close(RelayCloseCodes.Flooding, "flooding");
                }

                if (stopped)
                {
                    continue;
                }

                switch (frame.Kind)
                {
                    case InboundKind.Text when !session.IsClosing:
                        await session.ReceiveTextAsync(frame.Payload).ConfigureAwait(false);
                        break;
                    case InboundKind.Binary when !session.IsClosing:
                        session.ReceiveBinary();
                        break;
                    case InboundKind.TooLarge:
                        session.ReceiveTooLarge();
                        stopped = true;
                        break;
                    case InboundKind.Close:
                        // The writer flushes what is queued and answers with the client's code; Fleck then closes and
                        // OnClose ends this loop. Not awaited: the answer completes when the transport has ended.
                        if (!session.IsClosing)
                        {
                            _ = session.ReceiveCloseAsync(frame.CloseCode);
                        }

                        stopped = true;
                        break;
                }
            }
        }
    }

    private async Task FinishAsync(RelaySession? session)
    {
        try
        {
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

    // ---- Fleck's I/O path: everything below runs on the thread that read the bytes, one call at a time. ----

    /// <summary>Replaces Hybi13's ReceiveData: same parser, our frame handling, and a bound on what is buffered.</summary>
    private void OnData(List<byte> data)
    {
        if (_discarding)
        {
            data.Clear();
            return;
        }

        // Throws Fleck's WebSocketException on a protocol error: Fleck then reports OnError and closes with its code.
        Hybi13Handler.ReceiveData(data, _readState, OnFrame);

        // Fleck buffers a frame (and a fragmented message) whole, without limit: stop as soon as it cannot fit.
        if (!_discarding && (long)_readState.Data.Count + data.Count > (long)_maxFrameBytes + MaxFrameHeaderBytes)
        {
            TooLarge();
        }

        if (_discarding)
        {
            data.Clear();
        }
    }

    private void OnFrame(FrameType type, byte[] payload)
    {
        if (_discarding)
        {
            return;
        }

        switch (type)
        {
            case FrameType.Text:
                if (payload.Length > _maxFrameBytes)
                {
                    TooLarge();
                    return;
                }

                // As Fleck's own text handling (Hybi13Handler.cs:192-203) and ASP.NET Core's: invalid UTF-8 closes with 1007.
                if (!Utf8.IsValid(payload))
                {
                    throw new WebSocketException(WebSocketStatusCodes.InvalidFramePayloadData);
                }

                Enqueue(new Inbound(InboundKind.Text, payload, null));
                break;
            case FrameType.Binary:
                if (payload.Length > _maxFrameBytes)
                {
                    TooLarge();
                    return;
                }

                Enqueue(new Inbound(InboundKind.Binary, Array.Empty<byte>(), null));
                break;
            case FrameType.Close:
                // Fleck validates the close frame and throws on a bad one; onClose runs for a valid one.
                Hybi13Handler.ProcessFrame(type, payload, static _ => { }, () => ClientClosed(payload), static _ => { }, static _ => { }, static _ => { });
                break;
            default:
                // Ping (answered with a pong by Fleck's default OnPing) and pong.
                Hybi13Handler.ProcessFrame(type, payload, static _ => { }, static () => { }, static _ => { }, b => _socket.OnPing(b), b => _socket.OnPong(b));
                break;
        }
    }

    private void ClientClosed(byte[] payload)
    {
        int? code = payload.Length >= 2 ? (payload[0] << 8) | payload[1] : null;
        Enqueue(new Inbound(InboundKind.Close, Array.Empty<byte>(), code));

        // Nothing after a close frame counts (RFC 6455 section 5.5.1).
        _discarding = true;
    }

    private void TooLarge()
    {
        _discarding = true;
        _readState.Clear();
        Enqueue(new Inbound(InboundKind.TooLarge, Array.Empty<byte>(), null));
    }

    private void Enqueue(Inbound frame)
    {
        if (Interlocked.Add(ref _pendingBytes, frame.Length) > _maxPendingBytes && !_flooded)
        {
            _flooded = true;
            _discarding = true;
            FleckTransportLog.ReceiveBacklogExceeded(_server.Logger, _connectionId, _maxPendingBytes);
        }

        _inbound.Writer.TryWrite(frame);
    }

    /// <summary>Replaces Hybi13's close frame (the code alone) with code and reason.</summary>
    private byte[] BuildCloseFrame(int code)
    {
        string reason = Volatile.Read(ref _closeReason);
        byte[] payload = new byte[2 + Math.Min(Encoding.UTF8.GetByteCount(reason), MaxCloseReasonBytes)];
        payload[0] = (byte)(code >> 8);
        payload[1] = (byte)code;
        int length = Encoding.UTF8.GetByteCount(reason);
        if (length <= MaxCloseReasonBytes)
        {
            Encoding.UTF8.GetBytes(reason, payload.AsSpan(2));
        }
        else
        {
            // Cut at a character boundary so the reason stays valid UTF-8.
            Utf8.FromUtf16(reason, payload.AsSpan(2), out _, out int written, replaceInvalidSequences: true, isFinalBlock: false);
            Array.Resize(ref payload, 2 + written);
        }

        return Hybi13Handler.FrameData(payload, FrameType.Close);
    }

    private static string PathWithoutQuery(string? path)
    {
        if (string.IsNullOrEmpty(path))
        {
            return "/";
        }

        int query = path.IndexOf('?', StringComparison.Ordinal);
        return query < 0 ? path : path[..query];
    }

    private readonly record struct Inbound(InboundKind Kind, byte[] Payload, int? CloseCode)
    {
        // One byte more than the payload, so a flood of empty frames is bounded too.
        public int Length => Payload.Length + 1;
    }
}
