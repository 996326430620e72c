using System;
using System.IO;
using System.Threading.Tasks;
using StackExchange.Redis;

namespace GroupRelay.Redis;

/// <summary>
/// Options of the Redis scale-out. Set them with <c>AddGroupRelay().AddRedis("127.0.0.1:6379", options =&gt; ...)</c>;
/// they are validated when the host starts.
/// </summary>
/// <remarks>See docs/scaling.md for what lives in Redis and what happens when a node or Redis is lost.</remarks>
public sealed class RedisRelayOptions
{
    /// <summary>
    /// How to reach Redis. Set by <c>AddRedis(string)</c> or <c>AddRedis(ConfigurationOptions)</c>; the relay forces
    /// <c>AbortOnConnectFail = false</c> (start even when Redis is down, reconnect by itself) and a fail-fast backlog
    /// (nothing is buffered while Redis is away).
    /// </summary>
    public ConfigurationOptions? Configuration { get; set; }

    /// <summary>
    /// Creates the connection instead of <see cref="Configuration"/> (set by <c>AddRedis(IConnectionMultiplexer)</c>).
    /// A connection created here is owned by the caller and not disposed by the relay.
    /// </summary>
    public Func<TextWriter, Task<IConnectionMultiplexer>>? ConnectionFactory { get; set; }

    /// <summary>
    /// Prefix of every key and channel, so several applications (or environments) can share one Redis. Default
    /// <c>grouprelay</c>. Letters, digits, <c>.</c>, <c>-</c> and <c>_</c>, 1 to 64 characters.
    /// </summary>
    public string Prefix { get; set; } = "grouprelay";

    /// <summary>How often a node refreshes its liveness entry and looks for dead nodes. Default 1 s.</summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// A node whose liveness entry is older than this is dead: another node removes its users, which then show
    /// offline to everyone. Bounds how long the users of a crashed node look online. Default 5 s; at least twice
    /// <see cref="HeartbeatInterval"/>.
    /// </summary>
    public TimeSpan NodeTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long the sender's node waits for its own message to come back from Redis, so the echo reaches the sender
    /// before the <c>ack</c>. Default 2 s. Checked by one timer per node every quarter of this (at least 50 ms), so a
    /// wait ends between 1 and 1.25 times this after it began.
    /// </summary>
    public TimeSpan EchoTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Time limit of one Redis command, in milliseconds (StackExchange.Redis's <c>AsyncTimeout</c>). Default 2,000.</summary>
    public int CommandTimeoutMilliseconds { get; set; } = 2000;

    /// <summary>
    /// How long a group's stream keys in Redis (its epoch, last seq and retained messages) live once nobody uses them:
    /// every message, every position or <c>history</c> read, and every node that holds an online member of the group
    /// (a refresh in batches on its heartbeat, at least four times per this period) push the expiry of all three keys
    /// back to this, together; a group that nobody is online in and nobody writes to loses them after this. Null (the
    /// default): the larger of <c>HistoryMaxAge</c> and <c>IdempotencyWindow</c> plus 5 minutes (15 minutes with the
    /// defaults). When set, at least that larger value plus 1 second, at least 4 times <see cref="HeartbeatInterval"/>,
    /// and at most 30 days. A group whose keys expired starts a new epoch with its next message or position read (its
    /// members get <c>reset</c>), as when Redis loses them.
    /// </summary>
    public TimeSpan? StreamExpiry { get; set; }
}
