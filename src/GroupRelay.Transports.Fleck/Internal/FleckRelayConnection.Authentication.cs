using System;
using System.Collections.Generic;
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

    /// <summary>Closes with 4003 a connection whose browser page is on an origin the options do not allow.</summary>
    private bool RefuseForeignOrigin()
    {
        IWebSocketConnectionInfo info = _socket.ConnectionInfo;
        string origin = info.Origin ?? string.Empty;
        if (origin.Length == 0 || OriginAllowed(origin.TrimEnd('/'), info.Host, _server.Options.AllowedOrigins))
        {
            return false;
        }

        FleckTransportLog.OriginRefused(_server.Logger, info.ClientIpAddress, origin);
        CloseTransport(RelayCloseCodes.Unauthorized, "origin not allowed");
        return true;
    }

    private static bool OriginAllowed(string origin, string? host, IList<string> allowed)
    {
        if (allowed.Count == 0)
        {
            // The relay's own host, any port: a page served next to the relay.
            return Uri.TryCreate(origin, UriKind.Absolute, out Uri? page) && host is not null
                && string.Equals(page.Host, host.Split(':')[0], StringComparison.OrdinalIgnoreCase);
        }

        foreach (string entry in allowed)
        {
            if (entry == "*" || string.Equals(origin, entry.TrimEnd('/'), StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
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
