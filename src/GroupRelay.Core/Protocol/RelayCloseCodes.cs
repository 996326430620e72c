namespace GroupRelay;

/// <summary>The WebSocket close codes of the GroupRelay protocol (PROTOCOL.md section 5).</summary>
public static class RelayCloseCodes
{
    /// <summary>Normal closure.</summary>
    public const int Normal = 1000;
    /// <summary>The server is shutting down.</summary>
    public const int GoingAway = 1001;
    /// <summary>A client frame was larger than <see cref="GroupRelayOptions.MaxFrameBytes"/>.</summary>
    public const int MessageTooBig = 1009;
    /// <summary>The server failed, for example the membership source failed or timed out.</summary>
    public const int InternalError = 1011;
    /// <summary>
    /// Try again later (RFC 6455 section 7.4.2, IANA registry): a connection limit was full. Sent right after open by
    /// transports that cannot refuse the handshake itself; ASP.NET Core answers HTTP 429 before the upgrade instead.
    /// </summary>
    public const int TryAgainLater = 1013;
    /// <summary>Slow consumer: the connection's outbound queue exceeded its bound.</summary>
    public const int SlowConsumer = 4001;

    /// <summary>Unauthorized (transports that cannot refuse the handshake itself).</summary>
    public const int Unauthorized = 4003;
    /// <summary>Flooding: the connection kept exceeding its rate limit.</summary>
    public const int Flooding = 4008;
}
