using System;
using System.Diagnostics;
using System.Threading;
using System.Threading.Tasks;
using GroupRelay.ScaleOut;
using GroupRelay.Transports;
using Microsoft.Extensions.Logging;

namespace GroupRelay.Internal;

/// <summary>
/// Handles one client frame: rate limit, parse, and the request types of PROTOCOL.md section 3. Protocol errors
/// become <c>error</c> frames on the same connection and never affect another (section 4); an unexpected failure
/// becomes an <c>internal</c> error with a log line, and the connection stays usable.
/// </summary>
/// <remarks>
/// Thread-safety: stateless and shared by every connection; the per-connection state it uses (rate limit, sends in
/// flight, watch list) belongs to the <see cref="RelaySession"/> whose receive loop calls it, one frame at a time.
/// </remarks>
internal sealed class RequestDispatcher
{
    /// <summary>
    /// Sends one connection may have in flight before its receive loop waits for them (and so stops reading the socket):
    /// enough to hide a round trip to a backplane such as Redis, bounded so a fast client cannot pile up work.
    /// </summary>
    internal const int MaxPipelinedSends = 64;

    private readonly RequestParser _parser;
    private readonly MessageRouter _router;
    private readonly MessageFilters _filters;
    private readonly PresenceWatchers _watchers;
    private readonly PresenceStatus _status;
    private readonly RelayMetrics _metrics;
    private readonly GroupRelayOptions _options;
    private readonly ILogger _logger;

    public RequestDispatcher(MessageRouter router, MessageFilters filters, PresenceWatchers watchers, PresenceStatus status, RelayMetrics metrics, GroupRelayOptions options, ILogger logger)
    {
        _parser = new RequestParser(options);
        _router = router;
        _filters = filters;
        _watchers = watchers;
        _status = status;
        _metrics = metrics;
        _options = options;
        _logger = logger;
    }

    public async ValueTask HandleTextAsync(RelaySession session, ReadOnlyMemory<byte> frame, CancellationToken cancellationToken)
    {
        RelayConnection connection = session.Connection;
        if (connection.IsClosing)
        {
            return;
        }

        ParseResult parsed = _parser.Parse(frame, out RelayRequest request);
        bool send = !parsed.IsError && request.Type == RequestType.Send;
        if (session.PendingSends is Task pending)
        {
            // Replies go out in request order: anything but another send waits for the sends in flight.
            if (!pending.IsCompleted && !send)
            {
                await pending.ConfigureAwait(false);
            }

            if (pending.IsCompleted)
            {
                session.PendingSends = null;
            }
        }

        if (!TakeToken(session, parsed.IsError ? parsed.Id : request.Id))
        {
            return;
        }

        if (parsed.IsError)
        {
            SendError(connection, parsed.Id, parsed.ErrorCode!, parsed.ErrorMessage!);
            return;
        }

        try
        {
            if (send)
            {
                await SendAsync(session, request, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await DispatchAsync(session, request, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The connection is going away; nobody is left to answer.
        }
        catch (Exception ex)
        {
            Failed(connection, request, ex);
        }
    }

    public void HandleBinary(RelaySession session)
    {
        if (!session.IsClosing && TakeToken(session, null))
        {
            SendError(session.Connection, null, RelayErrorCodes.BadRequest, "binary frames are not accepted; send JSON in text frames");
        }
    }

    /// <summary>
    /// A <c>send</c>: the membership check and the start of publication happen here, in request order; what follows
    /// (with a backplane such as Redis, a round trip) is not waited for, so the receive loop reads the next frame
    /// meanwhile. The answer is chained after the answers of the sends before it, so acks keep request order (and each
    /// still follows its echo, which the stream owner queues before its publication completes).
    /// </summary>
    private ValueTask SendAsync(RelaySession session, RelayRequest request, CancellationToken cancellationToken)
    {
        Activity? activity = RelayTracing.StartSend(session.Connection.ConnectionId, request.Group!, request.Id);
        if (activity is null)
        {
            // No listener (the common case): no span to end, so no second state machine on the send path.
            ValueTask<Activity?> sending = SendInSpanAsync(session, request, null, cancellationToken);
            return sending.IsCompletedSuccessfully ? default : new ValueTask(sending.AsTask());
        }

        return SendTracedAsync(session, request, activity, cancellationToken);
    }

    private async ValueTask SendTracedAsync(RelaySession session, RelayRequest request, Activity activity, CancellationToken cancellationToken)
    {
        Activity? owned = activity;
        try
        {
            owned = await SendInSpanAsync(session, request, activity, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            // Null when the span went with a pipelined send, which ends it once answered.
            owned?.Dispose();
        }
    }

    /// <summary>The <c>send</c> itself; returns the span when it is done with it, or null when a pipelined answer took it over.</summary>
    private async ValueTask<Activity?> SendInSpanAsync(RelaySession session, RelayRequest request, Activity? activity, CancellationToken cancellationToken)
    {
        RelayConnection connection = session.Connection;
        if (!await _router.IsMemberAsync(request.Group!, connection.UserId, cancellationToken).ConfigureAwait(false))
        {
            await AnsweredBeforeAsync(session).ConfigureAwait(false);
            NotMember(connection, request);
            return activity;
        }

        ReadOnlyMemory<byte> body = request.Body;
        bool bodyIsCompact = request.BodyIsCompact;
        if (_filters.Any)
        {
            MessageFilters.Verdict verdict;
            try
            {
                verdict = await _filters.RunAsync(connection, request.Group!, body, bodyIsCompact, request.Id, cancellationToken).ConfigureAwait(false);
            }
            catch (MessageFilterException ex)
            {
                await AnsweredBeforeAsync(session).ConfigureAwait(false);
                GroupRelayLog.MessageFilterFailed(_logger, connection.UserId, connection.ConnectionId, request.Group!, ex);
                SendError(connection, request.Id, RelayErrorCodes.Internal, "the server failed to handle the request");
                return activity;
            }

            if (verdict.Refusal is string reason)
            {
                await AnsweredBeforeAsync(session).ConfigureAwait(false);
                SendError(connection, request.Id, RelayErrorCodes.Forbidden, reason);
                return activity;
            }

            body = verdict.Body;
            bodyIsCompact = verdict.BodyIsCompact;
        }

        ValueTask<PublishOutcome> publishing = _router.PublishAsync(request.Group!, connection.UserId, body, bodyIsCompact, connection, request.Echo, request.Id, cancellationToken);
        Task? previous = session.PendingSends;
        if (previous is null && publishing.IsCompletedSuccessfully)
        {
            // The common case in process: published synchronously, nothing in flight, so answer at once.
            Answer(connection, request, publishing.Result);
            return activity;
        }

        Interlocked.Increment(ref session.PipelinedSends);
        Task answered = AnswerWhenPublishedAsync(session, request, publishing, previous, activity, cancellationToken);
        session.PendingSends = answered;
        if (Volatile.Read(ref session.PipelinedSends) >= MaxPipelinedSends)
        {
            await answered.ConfigureAwait(false);
        }

        return null;
    }

    // An answer that is not an ack still keeps request order: it waits for the sends in flight before it.
    private static async ValueTask AnsweredBeforeAsync(RelaySession session)
    {
        if (session.PendingSends is Task pending)
        {
            await pending.ConfigureAwait(false);
        }
    }

    private async Task AnswerWhenPublishedAsync(RelaySession session, RelayRequest request, ValueTask<PublishOutcome> publishing, Task? previous, Activity? activity, CancellationToken cancellationToken)
    {
        using Activity? span = activity;
        try
        {
            PublishOutcome outcome = await publishing.ConfigureAwait(false);
            if (previous is not null)
            {
                await previous.ConfigureAwait(false);
            }

            Answer(session.Connection, request, outcome);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The connection is going away; nobody is left to answer.
        }
        catch (Exception ex)
        {
            if (previous is not null)
            {
                await previous.ConfigureAwait(false);
            }

            Failed(session.Connection, request, ex);
        }
        finally
        {
            Interlocked.Decrement(ref session.PipelinedSends);
        }
    }

    private async ValueTask DispatchAsync(RelaySession session, RelayRequest request, CancellationToken cancellationToken)
    {
        RelayConnection connection = session.Connection;
        using Activity? activity = RelayTracing.StartRequest(connection.ConnectionId, request.TypeName);
        switch (request.Type)
        {
            case RequestType.Members:
            {
                if (!await _router.IsMemberAsync(request.Group!, connection.UserId, cancellationToken).ConfigureAwait(false))
                {
                    NotMember(connection, request);
                    break;
                }

                var members = await _router.GetMembersAsync(request.Group!, cancellationToken).ConfigureAwait(false);
                connection.Outbound.TryEnqueue(FrameWriter.Members(request.Id, request.Group!, members));
                break;
            }

            case RequestType.Watch:
            {
                if (await _watchers.WatchAsync(session.Watches, request.Id, request.Users!, cancellationToken).ConfigureAwait(false) is var (code, message))
                {
                    SendError(connection, request.Id, code, message);
                }

                break;
            }

            case RequestType.Unwatch:
                _watchers.Unwatch(session.Watches, request.Users!);
                Ack(connection, request.Id, seq: null);
                break;

            case RequestType.Status:
                await _status.SetAsync(connection.UserId, request.StatusValue, cancellationToken).ConfigureAwait(false);
                Ack(connection, request.Id, seq: null);
                break;

            case RequestType.Ping:
                connection.Outbound.TryEnqueue(FrameWriter.Pong(request.Id));
                break;

            case RequestType.History:
            {
                if (!await _router.IsMemberAsync(request.Group!, connection.UserId, cancellationToken).ConfigureAwait(false))
                {
                    NotMember(connection, request);
                    break;
                }

                // The replayed frames are the stored bytes; the result follows them on the same FIFO queue.
                HistoryPage page = await _router.ReadHistoryAsync(request.Group!, request.After, request.Epoch, request.Limit, cancellationToken).ConfigureAwait(false);
                if (page.Unavailable)
                {
                    SendError(connection, request.Id, RelayErrorCodes.Unavailable, "the history could not be read now (the backplane is unreachable); nothing was replayed; retry later");
                    break;
                }

                foreach (ReadOnlyMemory<byte> frame in page.Frames)
                {
                    connection.Outbound.TryEnqueue(frame);
                }

                connection.Outbound.TryEnqueue(FrameWriter.History(request.Id, request.Group!, page.Position, page.Complete));
                break;
            }
        }
    }

    // An unexpected failure: a log line with the details, and to the client an internal error without them.
    private void Failed(RelayConnection connection, RelayRequest request, Exception ex)
    {
        GroupRelayLog.RequestFailed(_logger, request.Type.ToString(), connection.ConnectionId, ex);
        SendError(connection, request.Id, RelayErrorCodes.Internal, "the server failed to handle the request");
    }

    private void NotMember(RelayConnection connection, RelayRequest request)
        => SendError(connection, request.Id, RelayErrorCodes.NotMember, $"{connection.UserId} is not a member of group '{request.Group}'");

    /// <summary>
    /// The answer to a published <c>send</c>: its ack (marked when it repeats an idempotency key), bad_request for a key
    /// used for another group, or unavailable when the backplane could not order it (PROTOCOL.md section 4).
    /// </summary>
    private void Answer(RelayConnection connection, RelayRequest request, PublishOutcome outcome)
    {
        if (outcome.Unavailable)
        {
            SendError(connection, request.Id, RelayErrorCodes.Unavailable, outcome.OutcomeUnknown
                ? "the backplane became unreachable while the message was on its way and did not confirm whether it was ordered: it may have been delivered; a retry with the same id is answered as a duplicate if it was"
                : "the message could not be ordered now (the backplane is unreachable); nothing was delivered; retry with the same id");
        }
        else if (outcome.ConflictingGroup is string other)
        {
            SendError(connection, request.Id, RelayErrorCodes.BadRequest, $"id '{request.Id}' was used for a send to group '{other}' within the idempotency window; use a new id for a new message");
        }
        else if (request.Id is not null)
        {
            connection.Outbound.TryEnqueue(FrameWriter.Ack(request.Id, outcome.Seq, outcome.Duplicate));
        }
    }

    private static void Ack(RelayConnection connection, string? id, long? seq)
    {
        if (id is not null)
        {
            connection.Outbound.TryEnqueue(FrameWriter.Ack(id, seq));
        }
    }

    private bool TakeToken(RelaySession session, string? id)
    {
        if (session.RateLimiter is null || session.RateLimiter.TryTake(out bool flooding))
        {
            return true;
        }

        RelayConnection connection = session.Connection;
        _metrics.Dropped(DropReasons.RateLimited);
        if (flooding)
        {
            GroupRelayLog.Flooding(_logger, connection.ConnectionId, connection.UserId);
            connection.Outbound.RequestClose(RelayCloseCodes.Flooding, "flooding", discardQueued: true);
        }
        else
        {
            SendError(connection, id, RelayErrorCodes.RateLimited, $"more than {_options.RateLimitPerSecond:0.###} requests per second (burst {_options.RateLimitBurst}); the request was dropped");
        }

        return false;
    }

    private void SendError(RelayConnection connection, string? id, string code, string message)
    {
        // Only a span of this request: Activity.Current may be the transport's span of the whole connection (ASP.NET
        // Core's HTTP request), which one bad request must not mark failed.
        if (Activity.Current is { } current && current.Source == RelayTracing.Source)
        {
            RelayTracing.Fail(current, code, message);
        }

        _metrics.RequestError(code);
        connection.Outbound.TryEnqueue(FrameWriter.Error(id, code, message));
    }
}
