using System;

namespace GroupRelay;

/// <summary>
/// Options of the relay. Set them with <c>services.AddGroupRelay(options =&gt; ...)</c>; they are validated at
/// start-up and a bad value fails the host with a message that names the option.
/// </summary>
/// <remarks>
/// Every default below is the one PROTOCOL.md states. See docs/configuration.md for the full reference.
/// </remarks>
public sealed class GroupRelayOptions
{
    /// <summary>Largest client frame in bytes; a larger one closes that connection with 1009. Also the coalescing limit for outgoing frames. Default 64 KiB.</summary>
    public int MaxFrameBytes { get; set; } = 64 * 1024;

    /// <summary>
    /// Bound of a connection's outbound queue in bytes. Above it the connection is behind: it is closed with 4001 (a slow
    /// consumer, PROTOCOL.md section 5) when its writer has been stuck in one send for <see cref="SlowConsumerTimeout"/>,
    /// or at once above four times this bound. Default 1 MiB; at least twice <see cref="MaxFrameBytes"/>.
    /// </summary>
    public int MaxQueueBytes { get; set; } = 1024 * 1024;

    /// <summary>
    /// Bound of a connection's outbound queue in frames, judged like <see cref="MaxQueueBytes"/> (over it: behind; over
    /// four times it: closed with 4001 at once). Default 1,024, so a reader that keeps reading takes a burst of 4,096
    /// frames (twenty connections each sending their whole <see cref="RateLimitBurst"/> of 200 into one group) unharmed.
    /// </summary>
    public int MaxQueueFrames { get; set; } = 1024;

    /// <summary>
    /// How long the writer of a connection that is over its queue bounds may be stuck in one send (the client stopped
    /// reading, or reads slower than one frame per this time) before the connection is closed with 4001. A reader that
    /// keeps taking data is never closed for a burst the server admitted, up to four times the bounds. Default 5 s;
    /// <see cref="TimeSpan.Zero"/> closes a connection that is behind as soon as its writer is inside a send.
    /// </summary>
    public TimeSpan SlowConsumerTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Whether the per-connection request rate limit is enforced. Default true.</summary>
    public bool RateLimitEnabled { get; set; } = true;

    /// <summary>Requests per second a connection may sustain (token bucket refill rate). Default 100.</summary>
    public double RateLimitPerSecond { get; set; } = 100;

    /// <summary>Requests a connection may send in a burst (token bucket size). Default 200.</summary>
    public int RateLimitBurst { get; set; } = 200;

    /// <summary>
    /// Rejected (<c>rate_limited</c>) requests within one second that mark a connection as flooding; it is then
    /// closed with 4008. Default 100.
    /// </summary>
    public int FloodRejectionsPerSecond { get; set; } = 100;

    /// <summary>Longest group or user id, in UTF-16 characters. Default 128.</summary>
    public int MaxIdLength { get; set; } = 128;

    /// <summary>Most users one <c>watch</c> request may name. Default 1,000.</summary>
    public int MaxWatchPerRequest { get; set; } = 1000;

    /// <summary>Most users one connection may watch at once. Default 5,000.</summary>
    public int MaxWatchedUsers { get; set; } = 5000;

    /// <summary>Longest <c>status</c> value, in UTF-16 characters. Default 32.</summary>
    public int MaxStatusLength { get; set; } = 32;

    /// <summary>Deepest JSON nesting accepted in a client frame. Default 64.</summary>
    public int MaxJsonDepth { get; set; } = 64;

    /// <summary>
    /// Messages retained per group stream for <c>history</c> (PROTOCOL.md section 3): the latest ones, kept as the frames
    /// that were delivered. Default 100; 0 switches retention off (<c>history</c> then replays nothing and answers
    /// <c>complete:false</c> whenever messages were missed).
    /// </summary>
    public int HistoryMessagesPerGroup { get; set; } = 100;

    /// <summary>How long a retained message is kept for <c>history</c>. Default 10 minutes.</summary>
    public TimeSpan HistoryMaxAge { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// Bytes of retained frames across all groups of this process (the in-process streams; a backplane such as Redis
    /// bounds its own); over it the oldest messages of any group go first. Default 64 MiB.
    /// </summary>
    public long HistoryMaxBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>
    /// How long a <c>send</c>'s <c>id</c> is remembered per user as an idempotency key: a repeat inside the window, on any
    /// connection of the user (and with a backplane on any node), delivers nothing again and gets the first outcome with
    /// <c>"duplicate":true</c> (PROTOCOL.md section 3, "Idempotent send"). Default 2 minutes.
    /// </summary>
    public TimeSpan IdempotencyWindow { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Most idempotency keys remembered per user; over it the oldest is forgotten first. Default 1,000.</summary>
    public int MaxIdempotencyKeysPerUser { get; set; } = 1000;

    /// <summary>Whether online members get <c>joined</c>/<c>left</c> events when a member comes online or goes offline. Default true.</summary>
    public bool SendJoinLeaveEvents { get; set; } = true;

    /// <summary>How long the membership source may take at connect before the connection is closed with 1011. Default 10 s.</summary>
    public TimeSpan MembershipTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long the <see cref="IPresencePolicy"/> may take to answer one <c>watch</c>; then the relay stops waiting and
    /// answers that request with <c>internal</c> (the connection stays open). Default 10 s, as
    /// <see cref="MembershipTimeout"/>: the default policy asks the membership source. Must be more than zero and at
    /// most one hour.
    /// </summary>
    /// <remarks>
    /// The relay stops waiting on its own, whether or not the policy honours its cancellation token; a late answer is
    /// discarded and logged. From issue 11 (#3): every host callback with a timeout is bounded by the relay itself.
    /// </remarks>
    public TimeSpan PresencePolicyTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Open connections one user may have on this node. Default 100; 1 to 1,000,000.</summary>
    /// <remarks>
    /// A connection over the limit is refused: HTTP 429 before the upgrade on ASP.NET Core, close 1013 (try again later)
    /// right after open on Fleck; log event 26 and <c>grouprelay.connection.refusals{grouprelay.connection.limit="user"}</c>. Counted per node.
    /// </remarks>
    public int MaxConnectionsPerUser { get; set; } = 100;

    /// <summary>Open connections one client address may have on this node. Default 1,000; 1 to 1,000,000.</summary>
    /// <remarks>
    /// Refused as <see cref="MaxConnectionsPerUser"/>, with <c>limit="address"</c>. The address is the transport's view of
    /// the peer (behind a reverse proxy, use ASP.NET Core's forwarded headers middleware so it is the client's).
    /// </remarks>
    public int MaxConnectionsPerAddress { get; set; } = 1000;

    /// <summary>Open connections on this node in total, or null (the default) for no limit; at least 1.</summary>
    /// <remarks>Refused as <see cref="MaxConnectionsPerUser"/>, with <c>limit="total"</c>.</remarks>
    public int? MaxConnections { get; set; }

    /// <summary>
    /// The most groups the membership source may return for one user. Default 10,000; 1 to 10,000,000.
    /// </summary>
    /// <remarks>
    /// A source that returns more fails that connection (close 1011, reason <c>too many groups</c>, log event 24) before
    /// anything is built from its answer, instead of consuming the server (each group of a connection costs an entry in
    /// the group index and work at every connect and disconnect).
    /// </remarks>
    public int MaxGroupsPerUser { get; set; } = 10_000;

    /// <summary>
    /// How long a user whose last connection closed may come back before its groups' members get <c>left</c> and its
    /// watchers an offline <c>presence</c> event. Default <see cref="TimeSpan.Zero"/> (off: the events go at once); at
    /// most an hour. A few seconds cover a page reload.
    /// </summary>
    /// <remarks>
    /// Back within the period, nobody gets <c>left</c>/<c>joined</c> or offline/online events (only groups that changed in
    /// the host's data meanwhile are announced). Meanwhile the user is out of the online list: <c>members</c>,
    /// <see cref="IGroupRelay.GetPresenceAsync"/> and a new <c>watch</c> show it offline; only the events wait. With a
    /// backplane the period is kept by the node the user left; a user who comes back on another node is announced there
    /// as joined and online (without the left/offline before it), and the first node then sends nothing.
    /// </remarks>
    public TimeSpan PresenceGracePeriod { get; set; } = TimeSpan.Zero;

    /// <summary>
    /// How long each <see cref="IMessageFilter"/> may take on one <c>send</c>. Default 5 s; more than zero, at most an hour.
    /// </summary>
    /// <remarks>
    /// At the timeout the filter's token is cancelled and the relay stops waiting, whether or not the filter honours the
    /// token: the sender gets <c>internal</c>, nothing is delivered, and a log line (event 21) says which filter.
    /// </remarks>
    public TimeSpan MessageFilterTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Accepted messages that may wait for the <see cref="IMessageObserver"/>s. Default 10,000; 1 to 10,000,000. Only
    /// used when an observer is registered.
    /// </summary>
    /// <remarks>
    /// A message that finds the queue full is delivered but not observed: it is counted in
    /// <c>grouprelay.drops{grouprelay.drop.reason="observer_queue_full"}</c> and logged (event 23, at most once a second). Memory: the
    /// queue holds each message's body (a copy) and about 100 bytes more.
    /// </remarks>
    public int MessageObserverQueueCapacity { get; set; } = 10_000;

    /// <summary>
    /// How long a closing connection may take to flush and finish the close handshake before its socket is aborted;
    /// also how long shutdown waits for clients. Default 5 s.
    /// </summary>
    public TimeSpan CloseTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Interval of the transport's WebSocket keep-alive frames. Default 30 s; <see cref="TimeSpan.Zero"/> turns them off.
    /// </summary>
    /// <remarks>
    /// The Fleck transport sends pings; so does the ASP.NET Core transport with <see cref="KeepAliveTimeout"/> on .NET 9
    /// or later, while without it (.NET 8, or a timeout of zero) .NET sends unsolicited pongs, which keep proxies from
    /// closing an idle connection but detect nothing.
    /// </remarks>
    public TimeSpan KeepAliveInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long a client may take to answer a keep-alive ping before the connection is dropped as dead, so a peer that
    /// has not answered within <see cref="KeepAliveInterval"/> + this is closed, goes offline for its watchers, and its
    /// groups' members get <c>left</c>. Default 20 s; <see cref="TimeSpan.Zero"/> turns detection off. At most one hour.
    /// </summary>
    /// <remarks>
    /// Issue 11 (#1): a client that keeps its TCP connection but answers nothing (a laptop asleep behind a proxy) stayed
    /// online indefinitely. The dead peer is dropped without a close frame (it reads nothing): close code 1006. Applies to
    /// the Fleck transport (any frame from the peer counts as an answer) and to the ASP.NET Core transport on .NET 9 or
    /// later, through <c>WebSocketAcceptContext.KeepAliveTimeout</c> (RFC 6455 section 5.5.2: a ping must be answered by
    /// a pong). On .NET 8 the WebSocket API can send no ping, so the timeout is not applied there.
    /// </remarks>
    public TimeSpan KeepAliveTimeout { get; set; } = TimeSpan.FromSeconds(20);
}
