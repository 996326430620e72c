namespace GroupRelay.Client;

/// <summary>The connection state of a <see cref="GroupRelayClient"/> (see <see cref="GroupRelayClient.State"/>).</summary>
public enum RelayClientState
{
    /// <summary>Not started, stopped with <see cref="GroupRelayClient.StopAsync"/>, or given up by the reconnect policy. <see cref="GroupRelayClient.StartAsync"/> connects again.</summary>
    Disconnected,

    /// <summary><see cref="GroupRelayClient.StartAsync"/> is connecting (before the server's <c>welcome</c>).</summary>
    Connecting,

    /// <summary>Connected: the server's <c>welcome</c> arrived. Groups may still be catching up through <c>history</c> (PROTOCOL.md section 6).</summary>
    Connected,

    /// <summary>The connection dropped and the client is reconnecting under its reconnect policy; sends wait in the local queue.</summary>
    Reconnecting,

    /// <summary>
    /// The server refused the client's identity (HTTP 401 or 403 on the upgrade, or close code 4003). The client does
    /// not reconnect by itself; queued sends are kept. Call <see cref="GroupRelayClient.StartAsync"/> once
    /// <see cref="GroupRelayClientOptions.AccessTokenProvider"/> can return a fresh token.
    /// </summary>
    Unauthorized,
}
