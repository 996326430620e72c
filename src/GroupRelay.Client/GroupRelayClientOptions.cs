using System;
using System.Collections.Generic;
using System.Linq;
using System.Net.WebSockets;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;

namespace GroupRelay.Client;

/// <summary>
/// The settings of a <see cref="GroupRelayClient"/>. A plain mutable class: the client validates it and takes a copy
/// when it is constructed, so later changes to this instance have no effect on that client.
/// </summary>
public sealed class GroupRelayClientOptions
{
    /// <summary>The default of <see cref="ReconnectDelays"/>: at once, then 1, 2, 5, 10 and 30 seconds, then every 30 seconds.</summary>
    private static readonly TimeSpan[] DefaultReconnectDelays =
    [
        TimeSpan.Zero, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(30),
    ];

    /// <summary>
    /// The relay's WebSocket URLs (<c>ws://</c> or <c>wss://</c>), for example every node of a scaled-out relay. Required:
    /// at least one. The client connects to the first; when a connect fails it tries the next one, in order, before
    /// it waits for the reconnect policy; after a drop it tries the URL it was on first, unless the server said it was
    /// shutting down (close code 1001). A query string is kept (the token is added to it with
    /// <see cref="AccessTokenPlacement.QueryString"/>).
    /// </summary>
    public IList<Uri> Urls { get; } = new List<Uri>();

    /// <summary>
    /// Returns the bearer token for a connect, or null for none. Called before every connect attempt (the first,
    /// every reconnect and every <see cref="GroupRelayClient.StartAsync"/> after a refusal), so it can refresh an
    /// expiring token. Default: null (no token). The token is never logged.
    /// </summary>
    /// <remarks>The token it is given is cancelled when the client stops. An exception it throws fails that connect attempt.</remarks>
    public Func<CancellationToken, ValueTask<string?>>? AccessTokenProvider { get; set; }

    /// <summary>Where the token goes on the upgrade request. Default: <see cref="AccessTokenPlacement.AuthorizationHeader"/>.</summary>
    public AccessTokenPlacement AccessTokenPlacement { get; set; } = AccessTokenPlacement.AuthorizationHeader;

    /// <summary>
    /// The delays before each reconnect attempt after a drop, in order; the last one repeats for every later attempt,
    /// so the client never gives up (use <see cref="ReconnectPolicy"/> for that). Default: 0, 1, 2, 5, 10 and 30 seconds.
    /// Each delay is spread by <see cref="ReconnectJitter"/>. Ignored when <see cref="ReconnectPolicy"/> is set.
    /// </summary>
    public IList<TimeSpan> ReconnectDelays { get; } = new List<TimeSpan>(DefaultReconnectDelays);

    /// <summary>
    /// The jitter applied to <see cref="ReconnectDelays"/>: each delay is multiplied by a random factor in
    /// <c>[1 - jitter, 1 + jitter]</c>, so that clients dropped together do not come back together. Between 0 and 1;
    /// default 0.2.
    /// </summary>
    public double ReconnectJitter { get; set; } = 0.2;

    /// <summary>A reconnect policy of the application's own; when set, <see cref="ReconnectDelays"/> and <see cref="ReconnectJitter"/> are not used. Default: null.</summary>
    public IRelayReconnectPolicy? ReconnectPolicy { get; set; }

    /// <summary>
    /// How many sends may be outstanding (queued while disconnected, or written and not yet acknowledged) at once.
    /// A further <see cref="GroupRelayClient.SendAsync(string, System.Text.Json.JsonElement, CancellationToken)"/>
    /// waits for room. Between 1 and 1,000 (the server remembers at most 1,000 send ids per user, and a resend is
    /// only safe while its id is remembered); default 256.
    /// </summary>
    public int MaxQueuedSends { get; set; } = 256;

    /// <summary>
    /// How many messages <see cref="GroupRelayClient.ReadMessagesAsync"/> buffers for the application. When it is
    /// full the client stops reading from the socket until the application takes a message (backpressure): acks and
    /// events wait too, and a server whose queue for this connection overflows closes it (4001); the client then
    /// reconnects and catches up through <c>history</c>. At least 1; default 1,024.
    /// </summary>
    public int MessageBufferCapacity { get; set; } = 1024;

    /// <summary>The <c>limit</c> of each <c>history</c> request the client makes to catch a group up. Between 1 and 1,000; default 500.</summary>
    public int HistoryPageSize { get; set; } = 500;

    /// <summary>How long one connect attempt may take, from the upgrade request to the server's <c>welcome</c>. Positive; default 15 seconds.</summary>
    public TimeSpan HandshakeTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// How often the client pings the server (a <c>ping</c> request, and the WebSocket keep-alive), so that idle
    /// proxies keep the connection and a dead one is noticed. <see cref="TimeSpan.Zero"/> switches both off; default 15 seconds.
    /// </summary>
    public TimeSpan KeepAliveInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// When nothing arrives from the server for this long (with pings every <see cref="KeepAliveInterval"/>), the
    /// connection is taken for dead and dropped. Must be above <see cref="KeepAliveInterval"/>; default 45 seconds.
    /// Not used when <see cref="KeepAliveInterval"/> is zero.
    /// </summary>
    public TimeSpan ServerTimeout { get; set; } = TimeSpan.FromSeconds(45);

    /// <summary>
    /// How long after it was first written an unacknowledged send may still be sent again with the same <c>id</c>
    /// after a reconnect. The server remembers ids for its <c>IdempotencyWindow</c> (default 2 minutes); a resend after
    /// that could be delivered twice, so such a send fails instead with <see cref="GroupRelayClientException"/>
    /// ("may have been delivered"). Positive and not above the server's window; default 2 minutes.
    /// </summary>
    public TimeSpan ResendWindow { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>
    /// The largest frame the client sends: a send whose frame is larger is refused at once with
    /// <see cref="ArgumentException"/> (a server closes a connection that sends more than its <c>MaxFrameBytes</c>
    /// with 1009, and resending it would do so forever). At least 1,024; default 65,536, the server's default.
    /// </summary>
    public int MaxFrameBytes { get; set; } = 64 * 1024;

    /// <summary>
    /// The positions to resume from on the first connect, per group (for example saved by the previous run from
    /// <see cref="GroupRelayClient.GetPositions"/>). A group listed here catches up through <c>history</c> from that
    /// position; other groups start at the server's current position. Default: empty.
    /// </summary>
    public IDictionary<string, RelayStreamPosition> InitialPositions { get; } = new Dictionary<string, RelayStreamPosition>(StringComparer.Ordinal);

    /// <summary>Adjusts each <see cref="ClientWebSocket"/>'s options before it connects (proxy, certificates, headers). Default: null.</summary>
    /// <remarks>The client sets the subprotocol, the token, the keep-alive and <c>CollectHttpResponseDetails</c> after this runs.</remarks>
    public Action<ClientWebSocketOptions>? ConfigureWebSocket { get; set; }

    /// <summary>Where the client logs (connects, drops, resumes, refusals; never a token or a message body). Default: null (no logging).</summary>
    public ILoggerFactory? LoggerFactory { get; set; }

    /// <summary>Checks every option and returns a copy the client keeps.</summary>
    internal GroupRelayClientOptions ValidateAndCopy()
    {
        if (Urls.Count == 0)
        {
            throw Invalid(nameof(Urls), "must hold at least one ws:// or wss:// URL.");
        }

        foreach (Uri? url in Urls)
        {
            if (url is null || !url.IsAbsoluteUri || (url.Scheme != "ws" && url.Scheme != "wss"))
            {
                throw Invalid(nameof(Urls), $"'{(url is null ? "null" : Redact(url))}' is not an absolute ws:// or wss:// URL.");
            }
        }

        if (ReconnectPolicy is null)
        {
            if (ReconnectDelays.Count == 0)
            {
                throw Invalid(nameof(ReconnectDelays), "must hold at least one delay (or set ReconnectPolicy).");
            }

            if (ReconnectDelays.Any(d => d < TimeSpan.Zero || d > TimeSpan.FromDays(1)))
            {
                throw Invalid(nameof(ReconnectDelays), "every delay must be between zero and one day.");
            }
        }

        if (double.IsNaN(ReconnectJitter) || ReconnectJitter < 0 || ReconnectJitter > 1)
        {
            throw Invalid(nameof(ReconnectJitter), $"must be between 0 and 1 (was {ReconnectJitter}).");
        }

        Check(nameof(MaxQueuedSends), MaxQueuedSends, 1, 1000);
        Check(nameof(MessageBufferCapacity), MessageBufferCapacity, 1, int.MaxValue);
        Check(nameof(HistoryPageSize), HistoryPageSize, 1, 1000);
        Check(nameof(MaxFrameBytes), MaxFrameBytes, 1024, int.MaxValue);
        if (HandshakeTimeout <= TimeSpan.Zero)
        {
            throw Invalid(nameof(HandshakeTimeout), "must be positive.");
        }

        if (KeepAliveInterval < TimeSpan.Zero)
        {
            throw Invalid(nameof(KeepAliveInterval), "must be zero (off) or positive.");
        }

        if (KeepAliveInterval > TimeSpan.Zero && ServerTimeout <= KeepAliveInterval)
        {
            throw Invalid(nameof(ServerTimeout), $"must be above KeepAliveInterval ({KeepAliveInterval}).");
        }

        if (ResendWindow <= TimeSpan.Zero)
        {
            throw Invalid(nameof(ResendWindow), "must be positive.");
        }

        var copy = new GroupRelayClientOptions
        {
            AccessTokenProvider = AccessTokenProvider,
            AccessTokenPlacement = AccessTokenPlacement,
            ReconnectJitter = ReconnectJitter,
            ReconnectPolicy = ReconnectPolicy,
            MaxQueuedSends = MaxQueuedSends,
            MessageBufferCapacity = MessageBufferCapacity,
            HistoryPageSize = HistoryPageSize,
            HandshakeTimeout = HandshakeTimeout,
            KeepAliveInterval = KeepAliveInterval,
            ServerTimeout = ServerTimeout,
            ResendWindow = ResendWindow,
            MaxFrameBytes = MaxFrameBytes,
            ConfigureWebSocket = ConfigureWebSocket,
            LoggerFactory = LoggerFactory,
        };
        foreach (Uri url in Urls)
        {
            copy.Urls.Add(url);
        }

        copy.ReconnectDelays.Clear();
        foreach (TimeSpan delay in ReconnectDelays)
        {
            copy.ReconnectDelays.Add(delay);
        }

        foreach (KeyValuePair<string, RelayStreamPosition> position in InitialPositions)
        {
            if (string.IsNullOrEmpty(position.Key) || position.Value is null)
            {
                throw Invalid(nameof(InitialPositions), "every entry needs a group id and a position.");
            }

            copy.InitialPositions[position.Key] = position.Value;
        }

        return copy;
    }

    /// <summary>A URL as it may be logged or shown: scheme, host, port and path, never the query (it may hold a token).</summary>
    internal static string Redact(Uri url) => url.IsAbsoluteUri ? url.GetLeftPart(UriPartial.Path) : "(relative URL)";

    private static void Check(string name, int value, int min, int max)
    {
        if (value < min || value > max)
        {
            throw Invalid(name, max == int.MaxValue ? $"must be at least {min} (was {value})." : $"must be between {min} and {max} (was {value}).");
        }
    }

    private static ArgumentException Invalid(string option, string problem)
        => new($"GroupRelayClientOptions.{option} {problem}");
}
