using System;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;

namespace GroupRelay.Internal;

/// <summary>
/// Handles one client frame: rate limit, parse, and the request types of PROTOCOL.md section 3. Protocol errors
/// become <c>error</c> frames on the same connection and never affect another; an unexpected failure becomes an
/// <c>internal</c> error with a log line, and the connection stays usable.
/// </summary>
internal sealed class RequestDispatcher
{
    /// <summary>
    /// Sends one connection may have in flight through a backplane before its receive loop waits for them (and so
    /// stops reading the socket): enough to hide a round trip to Redis, bounded so a fast client cannot pile up work.
    /// </summary>
    internal const int MaxPipelinedSends = 64;

    private readonly RequestParser _parser;
    private readonly GroupMessageRouter _router;
    private readonly PresenceService _presenceService;
    private readonly IPresenceRegistry _presence;
    private readonly IGroupDirectory _directory;
    private readonly RelayLifecycle _lifecycle;
    private readonly RelayMetrics _metrics;
    private readonly GroupRelayOptions _options;
    private readonly ILogger _logger;

    public RequestDispatcher(RequestParser parser, GroupMessageRouter router, PresenceService presenceService, IPresenceRegistry presence, IGroupDirectory directory, RelayLifecycle lifecycle, RelayMetrics metrics, GroupRelayOptions options, ILogger logger)
    {
        _parser = parser;
        _router = router;
        _presenceService = presenceService;
        _presence = presence;
        _directory = directory;
        _lifecycle = lifecycle;
        _metrics = metrics;
        _options = options;
        _logger = logger;
    }

    public async ValueTask HandleTextAsync(RelayConnection connection, ReadOnlyMemory<byte> frame, CancellationToken cancellationToken)
    {
        if (connection.IsClosing)
        {
            return;
        }

        ParseResult parsed = _parser.Parse(frame, out RelayRequest request);
        bool pipelined = !parsed.IsError && request.Type == RequestType.Send && _router.UsesBackplane;
        if (connection.PendingSends is Task pending)
        {
            // Replies go out in request order: anything but another pipelined send waits for the sends in flight.
            if (!pending.IsCompleted && !pipelined)
            {
                await pending.ConfigureAwait(false);
            }

            if (pending.IsCompleted)
            {
                connection.PendingSends = null;
            }
        }

        if (!TakeToken(connection, parsed.IsError ? parsed.Id : request.Id))
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
            if (pipelined)
            {
                await SendPipelinedAsync(connection, request, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await DispatchAsync(connection, request, cancellationToken).ConfigureAwait(false);
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

    /// <summary>
    /// A <c>send</c> through a backplane: the membership check and the start of publication happen here, in request
    /// order; the round trip that follows is not waited for, so the receive loop reads the next frame meanwhile. The
    /// answer is chained after the answers of the sends before it, so acks keep request order (and each still follows
    /// its echo, which the backplane queues before its publication completes).
    /// </summary>
    private async ValueTask SendPipelinedAsync(RelayConnection connection, RelayRequest request, CancellationToken cancellationToken)
    {
        string user = connection.UserId;
        if (!await _router.IsMemberAsync(request.Group!, user, cancellationToken).ConfigureAwait(false))
        {
            if (connection.PendingSends is Task pending)
            {
                await pending.ConfigureAwait(false);
            }

            NotMember(connection, request);
            return;
        }

        ValueTask<long> publishing = _router.PublishCheckedAsync(request.Group!, user, request.Body, request.BodyIsCompact, connection, request.Echo, cancellationToken);
        Task? previous = connection.PendingSends;
        if (previous is null && publishing.IsCompletedSuccessfully)
        {
            Ack(connection, request.Id, publishing.Result);
            return;
        }

        Interlocked.Increment(ref connection.PipelinedSends);
        Task answered = AnswerWhenPublishedAsync(connection, request, publishing, previous, cancellationToken);
        connection.PendingSends = answered;
        if (Volatile.Read(ref connection.PipelinedSends) >= MaxPipelinedSends)
        {
            await answered.ConfigureAwait(false);
        }
    }

    private async Task AnswerWhenPublishedAsync(RelayConnection connection, RelayRequest request, ValueTask<long> publishing, Task? previous, CancellationToken cancellationToken)
    {
        try
        {
            long seq = await publishing.ConfigureAwait(false);
            if (previous is not null)
            {
                await previous.ConfigureAwait(false);
            }

            Ack(connection, request.Id, seq);
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

            Failed(connection, request, ex);
        }
        finally
        {
            Interlocked.Decrement(ref connection.PipelinedSends);
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

    private void Ack(RelayConnection connection, string? id, long seq)
    {
        if (id is not null)
        {
            _router.Queue(connection, FrameWriter.Ack(id, seq));
        }
    }

    public void HandleBinary(RelayConnection connection)
    {
        if (!connection.IsClosing && TakeToken(connection, null))
        {
            SendError(connection, null, RelayErrorCodes.BadRequest, "binary frames are not accepted; send JSON in text frames");
        }
    }

    private async ValueTask DispatchAsync(RelayConnection connection, RelayRequest request, CancellationToken cancellationToken)
    {
        string user = connection.UserId;
        switch (request.Type)
        {
            case RequestType.Send:
            {
                RouteResult result = await _router.RouteAsync(request.Group!, user, request.Body, request.BodyIsCompact, connection, request.Echo, cancellationToken).ConfigureAwait(false);
                if (result.NotMember)
                {
                    NotMember(connection, request);
                }
                else
                {
                    Ack(connection, request.Id, result.Seq);
                }

                break;
            }

            case RequestType.Members:
            {
                if (!await _directory.IsMemberAsync(request.Group!, user, cancellationToken).ConfigureAwait(false))
                {
                    NotMember(connection, request);
                    break;
                }

                var members = await _directory.GetMembersAsync(request.Group!, cancellationToken).ConfigureAwait(false);
                _router.Queue(connection, FrameWriter.Members(request.Id, request.Group!, members));
                break;
            }

            case RequestType.Watch:
            {
                string? error = await _presenceService.WatchAsync(connection, request.Id, request.Users!, cancellationToken).ConfigureAwait(false);
                if (error is not null)
                {
                    SendError(connection, request.Id, RelayErrorCodes.BadRequest, error);
                }

                break;
            }

            case RequestType.Unwatch:
                _presenceService.Unwatch(connection, request.Users!);
                Ack(connection, request.Id);
                break;

            case RequestType.Status:
            {
                using (await _lifecycle.Gate.EnterAsync(user, cancellationToken).ConfigureAwait(false))
                {
                    PresenceState before = await _presence.GetStateAsync(user, cancellationToken).ConfigureAwait(false);
                    if (await _presence.SetStatusAsync(user, request.StatusValue, cancellationToken).ConfigureAwait(false)
                        && !string.Equals(before.Status, request.StatusValue, StringComparison.Ordinal))
                    {
                        _presenceService.Notify(user, online: true, request.StatusValue);
                    }
                }

                Ack(connection, request.Id);
                break;
            }

            case RequestType.Ping:
                _router.Queue(connection, FrameWriter.Pong(request.Id));
                break;

            case RequestType.History:
                SendError(connection, request.Id, RelayErrorCodes.UnknownType, "'history' is not supported by this server version");
                break;
        }
    }

    private void Ack(RelayConnection connection, string? id)
    {
        if (id is not null)
        {
            _router.Queue(connection, FrameWriter.Ack(id, null));
        }
    }

    private bool TakeToken(RelayConnection connection, string? id)
    {
        if (connection.RateLimiter is null || connection.RateLimiter.TryTake(out bool flooding))
        {
            return true;
        }

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
        _metrics.RequestError(code);
        _router.Queue(connection, FrameWriter.Error(id, code, message));
    }
}
