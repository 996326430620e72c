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
            await DispatchAsync(connection, request, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The connection is going away; nobody is left to answer.
        }
        catch (Exception ex)
        {
            GroupRelayLog.RequestFailed(_logger, request.Type.ToString(), connection.ConnectionId, ex);
            SendError(connection, request.Id, RelayErrorCodes.Internal, "the server failed to handle the request");
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
                    SendError(connection, request.Id, RelayErrorCodes.NotMember, $"{user} is not a member of group '{request.Group}'");
                }
                else if (request.Id is not null)
                {
                    _router.Queue(connection, FrameWriter.Ack(request.Id, result.Seq));
                }

                break;
            }

            case RequestType.Members:
            {
                if (!await _directory.IsMemberAsync(request.Group!, user, cancellationToken).ConfigureAwait(false))
                {
                    SendError(connection, request.Id, RelayErrorCodes.NotMember, $"{user} is not a member of group '{request.Group}'");
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
