namespace GroupRelay.Client;

/// <summary>Where <see cref="GroupRelayClient"/> puts the token from <see cref="GroupRelayClientOptions.AccessTokenProvider"/> on the WebSocket upgrade.</summary>
public enum AccessTokenPlacement
{
    /// <summary>
    /// An <c>Authorization: Bearer &lt;token&gt;</c> header (the default): the token stays out of URLs and so out of
    /// proxy and server request logs. The ASP.NET Core and Fleck transports and the samples accept it.
    /// </summary>
    AuthorizationHeader,

    /// <summary>
    /// The <c>access_token</c> query parameter, as browsers send it (they cannot set headers on a WebSocket). Use it
    /// for a host that reads only the query.
    /// </summary>
    QueryString,
}
