using System;
using System.Threading.Tasks;
using Fleck;

namespace GroupRelay.Transports.Fleck.Internal;

// Admission after the handshake: the authenticator, and the refusal of a connection that opens while the server stops.
internal sealed partial class FleckRelayConnection
{
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

    private static string PathWithoutQuery(string? path)
    {
        if (string.IsNullOrEmpty(path))
        {
            return "/";
        }

        int query = path.IndexOf('?', StringComparison.Ordinal);
        return query < 0 ? path : path[..query];
    }
}
