using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using System.Threading;
using System.Threading.Tasks;
using GroupRelay.Client.Internal;

namespace GroupRelay.Client;

// What the application asks of the server: sends (acknowledged, retried with their id) and requests (answered).
public sealed partial class GroupRelayClient
{
    private const int MaxWatchUsers = 1000;
    private const int MaxStatusLength = 32;

    /// <summary>
    /// Sends a message to a group and returns the server's acknowledgement once it was ordered and delivered to every
    /// online member (PROTOCOL.md section 3, <c>send</c>). The message is delivered exactly once, also when the
    /// connection drops before the ack: the client sends it again with the same <c>id</c> on the next connection and the
    /// server answers <see cref="RelayAck.Duplicate"/> instead of delivering it twice (section 6, item 2).
    /// </summary>
    /// <param name="group">The group id (this user must be a member).</param>
    /// <param name="body">The body: any JSON value, relayed as is (written compactly).</param>
    /// <param name="cancellationToken">
    /// Stops waiting. A send that was never written is then dropped (never delivered); one that was written stays
    /// queued until acknowledged (and so is delivered once), only the wait ends.
    /// </param>
    /// <returns>The ack: the message's <c>seq</c> and whether the server had already ordered it.</returns>
    /// <remarks>
    /// While disconnected, sends wait in a local queue of at most <see cref="GroupRelayClientOptions.MaxQueuedSends"/>
    /// outstanding sends; a further send waits for room. Sends go out in the order they were queued. A send the server
    /// refuses with <c>unavailable</c> or <c>rate_limited</c> is sent again after a short delay with the same id.
    /// </remarks>
    /// <exception cref="ArgumentException"><paramref name="group"/> is empty, <paramref name="body"/> holds no value, or the frame is larger than <see cref="GroupRelayClientOptions.MaxFrameBytes"/>.</exception>
    /// <exception cref="InvalidOperationException">The client is not started (<see cref="RelayClientState.Disconnected"/>).</exception>
    /// <exception cref="RelayRequestException">The server refused the send (<c>not_member</c>, <c>forbidden</c>, <c>bad_request</c>, ...); nothing was delivered.</exception>
    /// <exception cref="GroupRelayClientException">
    /// The client stopped or gave up before the ack, or the send was not acknowledged within
    /// <see cref="GroupRelayClientOptions.ResendWindow"/>; if it had been written it may have been delivered.
    /// </exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <exception cref="ObjectDisposedException">The client was disposed.</exception>
    public Task<RelayAck> SendAsync(string group, JsonElement body, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(group);
        if (body.ValueKind == JsonValueKind.Undefined)
        {
            throw new ArgumentException("The body must hold a JSON value.", nameof(body));
        }

        string id = _idPrefix + Interlocked.Increment(ref _nextSendId).ToString(CultureInfo.InvariantCulture);
        byte[] frame = Serialize(new ClientRequest { Type = "send", Id = id, Group = group, Body = body });
        if (frame.Length > _options.MaxFrameBytes)
        {
            throw new ArgumentException($"The send's frame is {frame.Length} bytes, over GroupRelayClientOptions.MaxFrameBytes ({_options.MaxFrameBytes}).", nameof(body));
        }

        return SendCoreAsync(new PendingSend(id, group, frame), cancellationToken);
    }

    /// <summary>
    /// Sends a message whose body is <paramref name="body"/> serialized with <paramref name="jsonTypeInfo"/> (for
    /// example from a source-generated <c>JsonSerializerContext</c>). Otherwise as
    /// <see cref="SendAsync(string, JsonElement, CancellationToken)"/>.
    /// </summary>
    /// <typeparam name="T">The body's type.</typeparam>
    /// <param name="group">The group id.</param>
    /// <param name="body">The body.</param>
    /// <param name="jsonTypeInfo">How to serialize it.</param>
    /// <param name="cancellationToken">Stops waiting (see the other overload).</param>
    /// <returns>The ack.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="jsonTypeInfo"/> is null.</exception>
    /// <exception cref="ArgumentException">See <see cref="SendAsync(string, JsonElement, CancellationToken)"/>.</exception>
    /// <exception cref="InvalidOperationException">The client is not started.</exception>
    /// <exception cref="RelayRequestException">The server refused the send.</exception>
    /// <exception cref="GroupRelayClientException">The client stopped or gave up before the ack.</exception>
    public Task<RelayAck> SendAsync<T>(string group, T body, JsonTypeInfo<T> jsonTypeInfo, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(jsonTypeInfo);
        return SendAsync(group, JsonSerializer.SerializeToElement(body, jsonTypeInfo), cancellationToken);
    }

    /// <summary>
    /// Reads a group's retained messages after <paramref name="after"/> (PROTOCOL.md section 3, <c>history</c>), for
    /// example to show the past when a view opens. Independent of <see cref="ReadMessagesAsync"/>, which catches up by
    /// itself after drops: messages returned here are not handed over there again, nor held back.
    /// </summary>
    /// <param name="group">The group id (this user must be a member).</param>
    /// <param name="after">The <c>seq</c> after which to read; 0 for the oldest retained.</param>
    /// <param name="limit">At most this many messages, 1 to 1,000; default 100.</param>
    /// <param name="epoch">The epoch <paramref name="after"/> belongs to, or null for the current one. When it is not the current one, nothing is returned and the page is not complete.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>The messages, oldest first, and the stream's position; <see cref="RelayHistoryPage.Complete"/> says whether anything after <paramref name="after"/> is missing.</returns>
    /// <remarks>While disconnected the request waits for the next connection; a connection lost before the answer asks again on the next one.</remarks>
    /// <exception cref="ArgumentException"><paramref name="group"/> is empty, <paramref name="after"/> is negative or <paramref name="limit"/> is out of range.</exception>
    /// <exception cref="InvalidOperationException">The client is not started.</exception>
    /// <exception cref="RelayRequestException">The server refused (<c>not_member</c>, ...).</exception>
    /// <exception cref="GroupRelayClientException">The client stopped or gave up before the answer.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public async Task<RelayHistoryPage> HistoryAsync(string group, long after = 0, int limit = 100, string? epoch = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(group);
        ArgumentOutOfRangeException.ThrowIfNegative(after);
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(limit, 1000);
        string id = NextRequestId();
        byte[] frame = Serialize(new ClientRequest { Type = "history", Id = id, Group = group, After = after, Epoch = epoch, Limit = limit });
        var request = new PendingRequest(id, RequestKind.History, frame)
        {
            Group = group,
            After = after,
            Limit = limit,
            Collected = new SortedDictionary<long, RelayMessage>(),
            Completion = new TaskCompletionSource<object>(TaskCreationOptions.RunContinuationsAsynchronously),
        };
        return (RelayHistoryPage)await RequestAsync(request, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Watches users' presence (PROTOCOL.md section 3, <c>watch</c>): returns their state now, then raises
    /// <see cref="PresenceChanged"/> for every change. The client watches them again on every new connection (and
    /// raises <see cref="PresenceChanged"/> for what changed meanwhile) until <see cref="UnwatchAsync"/>.
    /// </summary>
    /// <param name="users">The user ids, 1 to 1,000 (duplicates are ignored).</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>Who is online (with status), offline, or not watchable (<see cref="RelayPresenceSnapshot.Forbidden"/>: no longer watched).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="users"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="users"/> is empty, holds more than 1,000 ids, or an empty id.</exception>
    /// <exception cref="InvalidOperationException">The client is not started.</exception>
    /// <exception cref="RelayRequestException">The server refused.</exception>
    /// <exception cref="GroupRelayClientException">The client stopped or gave up before the answer.</exception>
    public async Task<RelayPresenceSnapshot> WatchAsync(IEnumerable<string> users, CancellationToken cancellationToken = default)
    {
        string[] list = CheckUsers(users);
        string id = NextRequestId();
        var request = new PendingRequest(id, RequestKind.Watch, Serialize(new ClientRequest { Type = "watch", Id = id, Users = list }))
        {
            Completion = new TaskCompletionSource<object>(TaskCreationOptions.RunContinuationsAsynchronously),
        };
        lock (_gate)
        {
            _watched.UnionWith(list);
        }

        var frame = (ServerFrame)await RequestAsync(request, cancellationToken).ConfigureAwait(false);
        return ReadSnapshot(frame);
    }

    /// <summary>Stops watching users (PROTOCOL.md section 3, <c>unwatch</c>); no <see cref="PresenceChanged"/> for them any more.</summary>
    /// <param name="users">The user ids, 1 to 1,000.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>A task that completes when the server acknowledged.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="users"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="users"/> is empty, holds more than 1,000 ids, or an empty id.</exception>
    /// <exception cref="InvalidOperationException">The client is not started.</exception>
    /// <exception cref="GroupRelayClientException">The server refused, or the client stopped before the answer.</exception>
    public async Task UnwatchAsync(IEnumerable<string> users, CancellationToken cancellationToken = default)
    {
        string[] list = CheckUsers(users);
        string id = NextRequestId();
        var request = new PendingRequest(id, RequestKind.Unwatch, Serialize(new ClientRequest { Type = "unwatch", Id = id, Users = list }))
        {
            Completion = new TaskCompletionSource<object>(TaskCreationOptions.RunContinuationsAsynchronously),
        };
        lock (_gate)
        {
            _watched.ExceptWith(list);
            foreach (string user in list)
            {
                _presence.Remove(user);
            }
        }

        await RequestAsync(request, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Sets this user's app-defined status (PROTOCOL.md section 3, <c>status</c>), which its watchers see; the client
    /// sets it again on every new connection.
    /// </summary>
    /// <param name="status">1 to 32 characters (for example <c>away</c>), or null to clear it.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>A task that completes when the server acknowledged.</returns>
    /// <exception cref="ArgumentException"><paramref name="status"/> is empty or longer than 32 characters.</exception>
    /// <exception cref="InvalidOperationException">The client is not started.</exception>
    /// <exception cref="GroupRelayClientException">The server refused, or the client stopped before the answer.</exception>
    public async Task SetStatusAsync(string? status, CancellationToken cancellationToken = default)
    {
        if (status is not null && (status.Length == 0 || status.Length > MaxStatusLength))
        {
            throw new ArgumentException($"A status has 1 to {MaxStatusLength} characters, or is null.", nameof(status));
        }

        string id = NextRequestId();
        var request = new PendingRequest(id, RequestKind.Status, SerializeStatus(id, status))
        {
            Completion = new TaskCompletionSource<object>(TaskCreationOptions.RunContinuationsAsynchronously),
        };
        lock (_gate)
        {
            _status = status;
        }

        await RequestAsync(request, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The members of a group who are online now (PROTOCOL.md section 3, <c>members</c>).</summary>
    /// <param name="group">The group id (this user must be a member).</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>The online members' user ids.</returns>
    /// <exception cref="ArgumentException"><paramref name="group"/> is empty.</exception>
    /// <exception cref="InvalidOperationException">The client is not started.</exception>
    /// <exception cref="RelayRequestException">The server refused (<c>not_member</c>).</exception>
    /// <exception cref="GroupRelayClientException">The client stopped or gave up before the answer.</exception>
    public async Task<IReadOnlyList<string>> MembersAsync(string group, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(group);
        string id = NextRequestId();
        var request = new PendingRequest(id, RequestKind.Members, Serialize(new ClientRequest { Type = "members", Id = id, Group = group }))
        {
            Completion = new TaskCompletionSource<object>(TaskCreationOptions.RunContinuationsAsynchronously),
        };
        var frame = (ServerFrame)await RequestAsync(request, cancellationToken).ConfigureAwait(false);
        return frame.Online.ValueKind == JsonValueKind.Array
            ? frame.Online.EnumerateArray().Where(e => e.ValueKind == JsonValueKind.String).Select(e => e.GetString()!).ToList().AsReadOnly()
            : Array.Empty<string>();
    }

    private async Task<RelayAck> SendCoreAsync(PendingSend send, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            ThrowIfNotStarted();
        }

        await _sendSlots.WaitAsync(cancellationToken).ConfigureAwait(false);
        lock (_gate)
        {
            if (_disposed || _state == RelayClientState.Disconnected)
            {
                _sendSlots.Release();
                ThrowIfNotStarted();
            }

            _sends.AddLast(send.Node);
            _sendsById[send.Id] = send;
            if (_connection is { } connection)
            {
                WriteSend(connection, send, Environment.TickCount64);
            }
        }

        if (!cancellationToken.CanBeCanceled)
        {
            return await send.Completion.Task.ConfigureAwait(false);
        }

        using (cancellationToken.Register(() => CancelSend(send, cancellationToken)))
        {
            return await send.Completion.Task.ConfigureAwait(false);
        }
    }

    private void CancelSend(PendingSend send, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (send.FirstWrittenAt is null && _sendsById.ContainsKey(send.Id))
            {
                // Never written: drop it, it is never delivered.
                _sendsById.Remove(send.Id);
                _sends.Remove(send.Node);
                _sendSlots.Release();
            }
        }

        // A written send stays queued until its ack (so it is delivered once); only the wait ends.
        send.Completion.TrySetCanceled(cancellationToken);
    }

    private async Task<object> RequestAsync(PendingRequest request, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            ThrowIfNotStarted();
            _requests[request.Id] = request;
            _connection?.Enqueue(request.Frame);
        }

        TaskCompletionSource<object> completion = request.Completion!;
        using (cancellationToken.Register(() =>
        {
            lock (_gate)
            {
                _requests.Remove(request.Id);
            }

            completion.TrySetCanceled(cancellationToken);
        }))
        {
            return await completion.Task.ConfigureAwait(false);
        }
    }

    private void ThrowIfNotStarted()
    {
        ThrowIfDisposed();
        if (_state == RelayClientState.Disconnected)
        {
            throw new InvalidOperationException("The client is not started: call StartAsync first.");
        }
    }

    private static void WriteSend(RelayConnection connection, PendingSend send, long now)
    {
        send.WrittenOn = connection.Generation;
        send.FirstWrittenAt ??= now;
        connection.Enqueue(send.Frame);
    }

    /// <summary>Ends a send (ack or failure) and frees its place in the queue.</summary>
    private void CompleteSend(PendingSend send, RelayAck? ack, Exception? exception)
    {
        if (_sendsById.Remove(send.Id))
        {
            _sends.Remove(send.Node);
            _sendSlots.Release();
        }

        if (ack is not null)
        {
            send.Completion.TrySetResult(ack);
        }
        else
        {
            send.Completion.TrySetException(exception!);
        }
    }

    private void OnAck(ServerFrame frame)
    {
        if (frame.Id is null)
        {
            return;
        }

        if (_sendsById.TryGetValue(frame.Id, out PendingSend? send))
        {
            CompleteSend(send, new RelayAck(send.Group, frame.Seq ?? 0, frame.Duplicate ?? false), null);
            return;
        }

        if (_requests.Remove(frame.Id, out PendingRequest? request))
        {
            request.Completion?.TrySetResult(frame);
        }
    }

    private void OnError(RelayConnection connection, ServerFrame frame)
    {
        string code = frame.Code ?? "internal";
        string message = frame.Message ?? code;
        if (frame.Id is null)
        {
            ClientLog.ServerError(_logger, code, message);
            return;
        }

        bool retryable = code is "unavailable" or "rate_limited";
        if (_sendsById.TryGetValue(frame.Id, out PendingSend? send))
        {
            if (retryable)
            {
                // Nothing was delivered; the same id goes again shortly (PROTOCOL.md section 4).
                send.WrittenOn = -1;
                send.Refusals++;
                _ = ResendLaterAsync(send, TimeSpan.FromMilliseconds(Math.Min(100 << Math.Min(send.Refusals, 5), 2000)));
            }
            else
            {
                CompleteSend(send, null, new RelayRequestException(code, message));
            }

            return;
        }

        if (!_requests.Remove(frame.Id, out PendingRequest? request))
        {
            return;
        }

        if (request.Kind == RequestKind.CatchUp && request.Group is not null
            && _streams.TryGetValue(request.Group, out GroupStream? stream) && stream.CatchUp is { } catchUp && catchUp.RequestId == request.Id)
        {
            if (retryable)
            {
                _ = CatchUpLaterAsync(connection, stream, catchUp);
            }
            else
            {
                ClientLog.CatchUpFailed(_logger, request.Group, code);
                stream.CatchUp = null;
            }

            return;
        }

        request.Completion?.TrySetException(new RelayRequestException(code, message));
    }

    private async Task ResendLaterAsync(PendingSend send, TimeSpan delay)
    {
        await Task.Delay(delay).ConfigureAwait(false);
        lock (_gate)
        {
            if (!_sendsById.ContainsKey(send.Id) || send.WrittenOn != -1 || _connection is not { } connection)
            {
                // Answered, or already written again by a new connection's welcome.
                return;
            }

            WriteSend(connection, send, Environment.TickCount64);
        }
    }

    private async Task CatchUpLaterAsync(RelayConnection connection, GroupStream stream, CatchUp catchUp)
    {
        await Task.Delay(TimeSpan.FromMilliseconds(250)).ConfigureAwait(false);
        lock (_gate)
        {
            if (_connection == connection && stream.CatchUp == catchUp && _streams.ContainsKey(stream.Group))
            {
                RequestCatchUpPage(connection, stream, catchUp);
            }
        }
    }

    private static string[] CheckUsers(IEnumerable<string> users)
    {
        ArgumentNullException.ThrowIfNull(users);
        string[] list = users.Distinct(StringComparer.Ordinal).ToArray();
        if (list.Length is 0 or > MaxWatchUsers)
        {
            throw new ArgumentException($"Give 1 to {MaxWatchUsers} user ids (got {list.Length}).", nameof(users));
        }

        if (list.Any(string.IsNullOrEmpty))
        {
            throw new ArgumentException("A user id is null or empty.", nameof(users));
        }

        return list;
    }

    private string NextRequestId() => "r" + Interlocked.Increment(ref _nextRequestId).ToString(CultureInfo.InvariantCulture);

    private static byte[] Serialize(ClientRequest request) => JsonSerializer.SerializeToUtf8Bytes(request, ClientJsonContext.Default.ClientRequest);

    private static byte[] SerializeStatus(string? id, string? value)
        => JsonSerializer.SerializeToUtf8Bytes(new StatusRequest { Id = id, Value = value }, ClientJsonContext.Default.StatusRequest);
}
