using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Net;
using System.Net.WebSockets;
using System.Threading;
using System.Threading.Channels;
using System.Threading.Tasks;
using GroupRelay.Client.Internal;

namespace GroupRelay.Client;

// Connecting, the connection loop, reconnecting and stopping.
public sealed partial class GroupRelayClient
{
    private const string SubProtocol = "grouprelay.v1";
    private const int UnauthorizedCloseCode = 4003;
    private const int GoingAwayCloseCode = 1001;
    private static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Connects: tries each of <see cref="GroupRelayClientOptions.Urls"/> once, in order, and completes when the
    /// server's <c>welcome</c> arrived (state <see cref="RelayClientState.Connected"/>). From then on the client
    /// reconnects by itself under its reconnect policy. Also connects again after <see cref="StopAsync"/>, after the
    /// policy gave up, or after <see cref="Unauthorized"/> (asking the token provider for a fresh token); the client
    /// resumes its groups from the positions it had, and sends queued meanwhile go out.
    /// </summary>
    /// <param name="cancellationToken">Cancels the connect (the client is then <see cref="RelayClientState.Disconnected"/>).</param>
    /// <returns>A task that completes once connected.</returns>
    /// <exception cref="InvalidOperationException">The client is already started (connecting, connected or reconnecting).</exception>
    /// <exception cref="ObjectDisposedException">The client was disposed.</exception>
    /// <exception cref="RelayUnauthorizedException">The server refused the identity; <see cref="Unauthorized"/> was raised and the state is <see cref="RelayClientState.Unauthorized"/>.</exception>
    /// <exception cref="GroupRelayClientException">No URL could be connected (the inner exception says why); the state is <see cref="RelayClientState.Disconnected"/> and queued sends failed.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        await _lifecycle.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var outputs = new List<object>();
            CancellationTokenSource stop;
            lock (_gate)
            {
                ThrowIfDisposed();
                if (_state is not (RelayClientState.Disconnected or RelayClientState.Unauthorized))
                {
                    throw new InvalidOperationException($"The client is already started (state {_state}).");
                }

                _loopStop?.Dispose();
                _loopStop = stop = new CancellationTokenSource();
                _stopRequested = false;
                SetState(RelayClientState.Connecting, null, outputs);
            }

            await EmitAsync(outputs, CancellationToken.None).ConfigureAwait(false);
            outputs.Clear();
            Connected connected;
            using (CancellationTokenSource linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, stop.Token))
            {
                try
                {
                    connected = await ConnectOnceAsync(linked.Token).ConfigureAwait(false);
                }
                catch (RelayUnauthorizedException ex)
                {
                    await EnterUnauthorizedAsync(ex).ConfigureAwait(false);
                    throw;
                }
                catch (Exception ex)
                {
                    lock (_gate)
                    {
                        FailEverything(new GroupRelayClientException("The client could not connect; the send was not delivered.", ex));
                        SetState(RelayClientState.Disconnected, ex, outputs);
                    }

                    await EmitAsync(outputs, CancellationToken.None).ConfigureAwait(false);
                    throw;
                }
            }

            lock (_gate)
            {
                ApplyWelcome(connected.Connection, connected.Welcome, outputs);
                _loop = Task.Run(() => RunAsync(connected.Connection, connected.Rest, stop.Token), CancellationToken.None);
            }

            await EmitAsync(outputs, CancellationToken.None).ConfigureAwait(false);
        }
        finally
        {
            _lifecycle.Release();
        }
    }

    /// <summary>
    /// Closes the connection (1000, after what is queued on it is written) and stops reconnecting. Sends and requests
    /// still waiting fail with <see cref="GroupRelayClientException"/> (a send that was written may still have been
    /// delivered). The client keeps its group positions: a later <see cref="StartAsync"/> resumes from them. Does
    /// nothing when already stopped.
    /// </summary>
    /// <param name="cancellationToken">Stops waiting for the server's close answer (the socket is then aborted).</param>
    /// <returns>A task that completes when the connection loop has ended.</returns>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        await _lifecycle.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            Task? loop;
            RelayConnection? connection;
            CancellationTokenSource? stop;
            lock (_gate)
            {
                if (_state == RelayClientState.Disconnected && _loop is null)
                {
                    return;
                }

                _stopRequested = true;
                loop = _loop;
                stop = _loopStop;
                connection = _connection;
                _loop = null;
            }

            if (loop is not null)
            {
                connection?.RequestClose();
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(connection is null ? TimeSpan.Zero : CloseTimeout);
                try
                {
                    await loop.WaitAsync(timeout.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                }
            }

            if (stop is not null)
            {
                await stop.CancelAsync().ConfigureAwait(false);
            }

            if (loop is not null)
            {
                await loop.ConfigureAwait(false);
            }

            var outputs = new List<object>();
            lock (_gate)
            {
                FailEverything(new GroupRelayClientException("The client was stopped before the request was answered; a send that was already written may have been delivered."));
                SetState(RelayClientState.Disconnected, null, outputs);
            }

            await EmitAsync(outputs, CancellationToken.None).ConfigureAwait(false);
        }
        finally
        {
            _lifecycle.Release();
        }
    }

    /// <summary>The connection loop: reads until the connection ends, then reconnects under the policy, until stopped, refused or given up.</summary>
    private async Task RunAsync(RelayConnection connection, List<ServerFrame> rest, CancellationToken stop)
    {
        try
        {
            while (true)
            {
                Drop drop = await ReceiveUntilDropAsync(connection, rest, stop).ConfigureAwait(false);
                var outputs = new List<object>();
                bool stopping;
                lock (_gate)
                {
                    OnConnectionLost(connection);
                    stopping = _stopRequested || stop.IsCancellationRequested;
                    if (!stopping && drop.Unauthorized is null)
                    {
                        SetState(RelayClientState.Reconnecting, drop.Reason, outputs);
                        if (drop.GoingAway)
                        {
                            _urlIndex = (_urlIndex + 1) % _options.Urls.Count;
                        }
                    }
                }

                await connection.DisposeAsync().ConfigureAwait(false);
                if (stopping)
                {
                    return;
                }

                ClientLog.ConnectionLost(_logger, connection.UrlName, drop.Reason);
                if (drop.Unauthorized is { } refused)
                {
                    await EnterUnauthorizedAsync(refused).ConfigureAwait(false);
                    return;
                }

                await EmitAsync(outputs, stop).ConfigureAwait(false);
                Connected? next = await ReconnectAsync(drop.Reason, stop).ConfigureAwait(false);
                if (next is null)
                {
                    return;
                }

                outputs.Clear();
                lock (_gate)
                {
                    if (_stopRequested)
                    {
                        stopping = true;
                    }
                    else
                    {
                        ApplyWelcome(next.Connection, next.Welcome, outputs);
                    }
                }

                if (stopping)
                {
                    await next.Connection.DisposeAsync().ConfigureAwait(false);
                    return;
                }

                await EmitAsync(outputs, stop).ConfigureAwait(false);
                connection = next.Connection;
                rest = next.Rest;
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
#pragma warning disable CA1031 // The loop's last resort: say so and leave the client disconnected rather than silently dead.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            ClientLog.LoopFailed(_logger, ex);
            var outputs = new List<object>();
            lock (_gate)
            {
                _connection?.Abort();
                _connection = null;
                FailEverything(new GroupRelayClientException("The client's connection loop failed.", ex));
                SetState(RelayClientState.Disconnected, ex, outputs);
            }

            await EmitAsync(outputs, CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <summary>Reconnect attempts with the policy's delays; null when stopped, refused or given up (all handled here).</summary>
    private async Task<Connected?> ReconnectAsync(Exception? reason, CancellationToken stop)
    {
        long started = Stopwatch.GetTimestamp();
        for (long attempt = 0; ; attempt++)
        {
            TimeSpan? delay;
            try
            {
                delay = _reconnectPolicy.NextRetryDelay(new RelayRetryContext(attempt, Stopwatch.GetElapsedTime(started), reason));
            }
#pragma warning disable CA1031 // The application's policy: a failure means "give up", as documented.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                ClientLog.PolicyFailed(_logger, ex);
                delay = null;
            }

            if (delay is not { } wait)
            {
                ClientLog.GaveUp(_logger, attempt);
                var outputs = new List<object>();
                lock (_gate)
                {
                    FailEverything(new GroupRelayClientException("The client gave up reconnecting; the request was not answered (a send already written may have been delivered).", reason));
                    SetState(RelayClientState.Disconnected, reason, outputs);
                }

                await EmitAsync(outputs, CancellationToken.None).ConfigureAwait(false);
                return null;
            }

            ClientLog.Reconnecting(_logger, attempt + 1, wait);
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, stop).ConfigureAwait(false);
            }

            try
            {
                return await ConnectOnceAsync(stop).ConfigureAwait(false);
            }
            catch (RelayUnauthorizedException ex)
            {
                await EnterUnauthorizedAsync(ex).ConfigureAwait(false);
                return null;
            }
            catch (Exception ex) when (!stop.IsCancellationRequested)
            {
                reason = ex;
            }
        }
    }

    private async Task EnterUnauthorizedAsync(RelayUnauthorizedException refused)
    {
        var outputs = new List<object>();
        lock (_gate)
        {
            SetState(RelayClientState.Unauthorized, refused, outputs);
            outputs.Add(() => Raise(Unauthorized, new RelayUnauthorizedEventArgs(refused), nameof(Unauthorized)));
        }

        await EmitAsync(outputs, CancellationToken.None).ConfigureAwait(false);
    }

    /// <summary>Reads and handles frames until the connection ends; says why it ended.</summary>
    private async Task<Drop> ReceiveUntilDropAsync(RelayConnection connection, List<ServerFrame> rest, CancellationToken stop)
    {
        try
        {
            await HandleFramesAsync(connection, rest, stop).ConfigureAwait(false);
            while (true)
            {
                ReceivedMessage message = await connection.ReceiveAsync(stop).ConfigureAwait(false);
                if (message.Frames is { } frames)
                {
                    await HandleFramesAsync(connection, frames, stop).ConfigureAwait(false);
                    continue;
                }

                int code = message.CloseStatus ?? 1005;
                var closed = new GroupRelayClientException($"The server closed the connection with {code.ToString(CultureInfo.InvariantCulture)} ({message.CloseDescription}).");
                return code == UnauthorizedCloseCode
                    ? new Drop(closed, new RelayUnauthorizedException("The server closed the connection with 4003 (unauthorized).", null, code, closed), GoingAway: false)
                    : new Drop(closed, null, code == GoingAwayCloseCode);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            return new Drop(null, null, GoingAway: false);
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException or GroupRelayClientException or InvalidOperationException)
        {
            return new Drop(ex, null, GoingAway: false);
        }
    }

    private async ValueTask HandleFramesAsync(RelayConnection connection, List<ServerFrame> frames, CancellationToken stop)
    {
        if (frames.Count == 0)
        {
            return;
        }

        var outputs = new List<object>();
        lock (_gate)
        {
            if (_connection != connection)
            {
                return;
            }

            foreach (ServerFrame frame in frames)
            {
                HandleFrame(connection, frame, outputs);
            }
        }

        await EmitAsync(outputs, stop).ConfigureAwait(false);
    }

    /// <summary>One pass over the URLs, starting at the last one that worked; the first that gives a <c>welcome</c> wins.</summary>
    private async Task<Connected> ConnectOnceAsync(CancellationToken cancellationToken)
    {
        int count = _options.Urls.Count;
        int start;
        lock (_gate)
        {
            start = _urlIndex;
        }

        var failures = new List<Exception>();
        for (int i = 0; i < count; i++)
        {
            int index = (start + i) % count;
            Uri url = _options.Urls[index];
            try
            {
                Connected connected = await ConnectToAsync(url, _urlNames[index], cancellationToken).ConfigureAwait(false);
                lock (_gate)
                {
                    _urlIndex = index;
                }

                return connected;
            }
            catch (RelayUnauthorizedException ex)
            {
                // Another node would refuse the same token: stop here and ask the application for a new one.
                ClientLog.Unauthorized(_logger, _urlNames[index], (int?)ex.HttpStatusCode, ex.CloseCode);
                lock (_gate)
                {
                    _urlIndex = index;
                }

                throw;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                throw;
            }
#pragma warning disable CA1031 // Any failure of one URL means "try the next".
            catch (Exception ex)
#pragma warning restore CA1031
            {
                ClientLog.ConnectFailed(_logger, _urlNames[index], ex);
                failures.Add(ex);
            }
        }

        throw new GroupRelayClientException(
            count == 1 ? "Could not connect to the relay." : $"Could not connect to any of the {count} relay URLs.",
            failures.Count == 1 ? failures[0] : new AggregateException(failures));
    }

    private async Task<Connected> ConnectToAsync(Uri url, string urlName, CancellationToken cancellationToken)
    {
        ClientLog.Connecting(_logger, urlName);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.HandshakeTimeout);
        string? token = _options.AccessTokenProvider is { } provider ? await provider(timeout.Token).ConfigureAwait(false) : null;
        var socket = new ClientWebSocket();
        RelayConnection? connection = null;
        try
        {
            _options.ConfigureWebSocket?.Invoke(socket.Options);
            socket.Options.AddSubProtocol(SubProtocol);
            socket.Options.CollectHttpResponseDetails = true;
            socket.Options.KeepAliveInterval = _options.KeepAliveInterval;
            Uri target = url;
            if (!string.IsNullOrEmpty(token))
            {
                if (_options.AccessTokenPlacement == AccessTokenPlacement.QueryString)
                {
                    var builder = new UriBuilder(url);
                    string query = builder.Query.TrimStart('?');
                    builder.Query = (query.Length == 0 ? string.Empty : query + "&") + "access_token=" + Uri.EscapeDataString(token);
                    target = builder.Uri;
                }
                else
                {
                    socket.Options.SetRequestHeader("Authorization", "Bearer " + token);
                }
            }

            try
            {
                await socket.ConnectAsync(target, timeout.Token).ConfigureAwait(false);
            }
            catch (WebSocketException ex) when (socket.HttpStatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
            {
                throw new RelayUnauthorizedException(
                    $"The server refused the WebSocket upgrade with HTTP {(int)socket.HttpStatusCode} ({socket.HttpStatusCode}).", socket.HttpStatusCode, null, ex);
            }

            connection = new RelayConnection(socket, new Uri(urlName), urlName, _logger);
            ReceivedMessage first = await connection.ReceiveAsync(timeout.Token).ConfigureAwait(false);
            if (first.Frames is null)
            {
                int code = first.CloseStatus ?? 1005;
                if (code == UnauthorizedCloseCode)
                {
                    throw new RelayUnauthorizedException("The server closed the connection with 4003 (unauthorized) before its welcome.", null, code, null);
                }

                throw new GroupRelayClientException($"The server closed the connection with {code.ToString(CultureInfo.InvariantCulture)} ({first.CloseDescription}) before its welcome.");
            }

            if (first.Frames.Count == 0 || first.Frames[0].Type != "welcome" || first.Frames[0].User is null)
            {
                throw new GroupRelayClientException("The server's first frame was not a welcome.");
            }

            var rest = first.Frames.Skip(1).ToList();
            return new Connected(connection, first.Frames[0], rest);
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            await DisposeFailedAsync(connection, socket).ConfigureAwait(false);
            throw new TimeoutException($"No welcome within the handshake timeout of {_options.HandshakeTimeout}.", ex);
        }
        catch
        {
            await DisposeFailedAsync(connection, socket).ConfigureAwait(false);
            throw;
        }

        static async ValueTask DisposeFailedAsync(RelayConnection? connection, ClientWebSocket socket)
        {
            if (connection is not null)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }
            else
            {
                socket.Dispose();
            }
        }
    }

    /// <summary>
    /// The new connection's <c>welcome</c> (PROTOCOL.md section 6, item 3): compares each group's position with what the
    /// application has, starts catching up where the stream moved on, restores the watch and status, and writes the
    /// application's requests and queued or unacknowledged sends again, in order, with their ids.
    /// </summary>
    private void ApplyWelcome(RelayConnection connection, ServerFrame welcome, List<object> outputs)
    {
        connection.Generation = ++_generation;
        _connection = connection;
        _user = welcome.User;
        _connectionId = welcome.ConnectionId;
        List<string> groups = welcome.Groups ?? new List<string>();
        _groups = groups.AsReadOnly();
        ClientLog.Connected(_logger, connection.UrlName, welcome.User ?? string.Empty, welcome.ConnectionId ?? string.Empty, groups.Count);
        SetState(RelayClientState.Connected, null, outputs);

        Dictionary<string, WirePosition> positions = welcome.Positions ?? new Dictionary<string, WirePosition>();
        var listed = new HashSet<string>(StringComparer.Ordinal);
        foreach (string group in groups)
        {
            listed.Add(group);
            WirePosition position = positions.GetValueOrDefault(group) ?? new WirePosition { Epoch = string.Empty, Seq = 0 };
            string epoch = position.Epoch ?? string.Empty;
            if (!_streams.TryGetValue(group, out GroupStream? stream))
            {
                _streams[group] = new GroupStream(group, epoch, position.Seq);
                if (_everConnected)
                {
                    var args = new RelayGroupEventArgs(group, new RelayStreamPosition(epoch, position.Seq));
                    outputs.Add(() => Raise(GroupAdded, args, nameof(GroupAdded)));
                }

                continue;
            }

            stream.CatchUp = null;
            if (!string.Equals(stream.Epoch, epoch, StringComparison.Ordinal))
            {
                Unrecovered(stream, stream.LastSeq + 1, RelayUnrecoveredReason.EpochChanged, new RelayStreamPosition(epoch, 1), outputs);
                stream.Epoch = epoch;
                stream.LastSeq = 0;
            }

            if (position.Seq > stream.LastSeq)
            {
                StartCatchUp(connection, stream, position.Seq);
            }
        }

        foreach (string gone in _streams.Keys.Where(g => !listed.Contains(g)).ToList())
        {
            _streams.Remove(gone);
            if (_everConnected)
            {
                var args = new RelayGroupEventArgs(gone, null);
                outputs.Add(() => Raise(GroupRemoved, args, nameof(GroupRemoved)));
            }
        }

        // The watch and the status belong to a connection: the new one gets them again.
        foreach (string[] chunk in _watched.Chunk(MaxWatchUsers))
        {
            string id = NextRequestId();
            var request = new PendingRequest(id, RequestKind.RestoreWatch, Serialize(new ClientRequest { Type = "watch", Id = id, Users = chunk }));
            _requests[id] = request;
            connection.Enqueue(request.Frame);
        }

        if (_status is not null)
        {
            connection.Enqueue(SerializeStatus(null, _status));
        }

        foreach (PendingRequest request in _requests.Values.Where(r => !r.IsInternal))
        {
            connection.Enqueue(request.Frame);
        }

        long now = Environment.TickCount64;
        int resent = 0;
        for (LinkedListNode<PendingSend>? node = _sends.First; node is not null;)
        {
            PendingSend send = node.Value;
            node = node.Next;
            if (send.FirstWrittenAt is long first && now - first > (long)_options.ResendWindow.TotalMilliseconds)
            {
                CompleteSend(send, null, new GroupRelayClientException(
                    $"The send was not acknowledged within ResendWindow ({_options.ResendWindow}); it is not sent again because the server may have forgotten its id. It may have been delivered."));
                continue;
            }

            WriteSend(connection, send, now);
            resent++;
        }

        if (resent > 0)
        {
            ClientLog.Resending(_logger, resent);
        }

        _everConnected = true;
        connection.Start(_options.KeepAliveInterval, _options.ServerTimeout);
    }

    /// <summary>The connection ended: the catch-ups and the client's own requests go with it; the rest waits for the next one.</summary>
    private void OnConnectionLost(RelayConnection connection)
    {
        if (_connection != connection)
        {
            return;
        }

        _connection = null;
        foreach (GroupStream stream in _streams.Values)
        {
            stream.CatchUp = null;
        }

        foreach (PendingRequest request in _requests.Values.ToList())
        {
            if (request.IsInternal)
            {
                _requests.Remove(request.Id);
            }
            else
            {
                request.Collected?.Clear();
            }
        }

        foreach (PendingSend send in _sends)
        {
            send.WrittenOn = -1;
        }
    }

    /// <summary>Fails every send and request still waiting (stop, give-up).</summary>
    private void FailEverything(Exception exception)
    {
        foreach (PendingSend send in _sends.ToList())
        {
            CompleteSend(send, null, exception);
        }

        foreach (PendingRequest request in _requests.Values)
        {
            request.Completion?.TrySetException(exception);
        }

        _requests.Clear();
        foreach (GroupStream stream in _streams.Values)
        {
            stream.CatchUp = null;
        }
    }

    private void SetState(RelayClientState state, Exception? exception, List<object> outputs)
    {
        RelayClientState previous = _state;
        if (previous == state)
        {
            return;
        }

        _state = state;
        var args = new RelayStateChangedEventArgs(previous, state, exception);
        outputs.Add(() => Raise(StateChanged, args, nameof(StateChanged)));
    }

    /// <summary>Hands messages to the buffer (waiting for room: backpressure) and raises events, in order, outside the gate.</summary>
    private async ValueTask EmitAsync(List<object> outputs, CancellationToken cancellationToken)
    {
        foreach (object output in outputs)
        {
            if (output is RelayMessage message)
            {
                if (!_messages.Writer.TryWrite(message))
                {
                    try
                    {
                        await _messages.Writer.WriteAsync(message, cancellationToken).ConfigureAwait(false);
                    }
                    catch (ChannelClosedException)
                    {
                        // Disposed: nobody reads any more.
                    }
                }
            }
            else
            {
                ((Action)output)();
            }
        }
    }

    /// <summary>Why a connection ended.</summary>
    private readonly record struct Drop(Exception? Reason, RelayUnauthorizedException? Unauthorized, bool GoingAway);

    /// <summary>A connection whose <c>welcome</c> arrived (not applied yet), and the frames that came with it.</summary>
    private sealed record Connected(RelayConnection Connection, ServerFrame Welcome, List<ServerFrame> Rest);
}
