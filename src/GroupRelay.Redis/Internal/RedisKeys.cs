using System;
using System.Text;
using StackExchange.Redis;

namespace GroupRelay.Internal;

/// <summary>
/// Every key and channel name. Group and user ids are data: inside a name they are always base64url-encoded
/// (UTF-8, no padding), so an id with <c>*</c>, <c>:</c>, spaces, newlines or any other character can neither
/// collide with another id nor act as a pattern. Values and hash fields hold ids as they are.
/// </summary>
/// <remarks>Thread-safety: immutable; this node's identity (a new id at every start), its names, and how long a group's stream keys live.</remarks>
internal sealed class RedisKeys
{
    public RedisKeys(string prefix, string nodeId, TimeSpan streamExpiry)
    {
        Prefix = prefix;
        NodeId = nodeId;
        StreamExpiry = streamExpiry;
        StreamExpiryMilliseconds = (long)streamExpiry.TotalMilliseconds;
        Nodes = prefix + ":nodes";
        Online = prefix + ":online";
        Status = prefix + ":status";
        NodeUsers = UsersOf(nodeId);
        NodeMemberships = MembershipsOf(nodeId);
        Events = RedisChannel.Literal(prefix + ":ch:events");
    }

    public string Prefix { get; }

    public string NodeId { get; }

    /// <summary>
    /// How long a group's stream keys (<see cref="Seq"/>, <see cref="Epoch"/>, <see cref="Stream"/>) live without a
    /// message, a read or a refresh by a node holding a member (<c>RedisRelayOptions.StreamExpiry</c>, resolved).
    /// Every script that writes or reads them sets this expiry on all three at once, so they expire together.
    /// </summary>
    public TimeSpan StreamExpiry { get; }

    /// <summary><see cref="StreamExpiry"/> in milliseconds, as the scripts take it.</summary>
    public long StreamExpiryMilliseconds { get; }

    /// <summary>ZSET node id to last heartbeat (Redis time, ms).</summary>
    public RedisKey Nodes { get; }

    /// <summary>HASH user to its number of open connections on all nodes.</summary>
    public RedisKey Online { get; }

    /// <summary>HASH user to status.</summary>
    public RedisKey Status { get; }

    /// <summary>HASH user to its connections on this node.</summary>
    public RedisKey NodeUsers { get; }

    /// <summary>SET of "E(group) user" pairs this node holds.</summary>
    public RedisKey NodeMemberships { get; }

    /// <summary>The broadcast channel of presence events and membership changes.</summary>
    public RedisChannel Events { get; }

    public RedisKey UsersOf(string nodeId) => Prefix + ":n:" + nodeId + ":u";

    public RedisKey MembershipsOf(string nodeId) => Prefix + ":n:" + nodeId + ":m";

    /// <summary>HASH user to the number of nodes where it is an online member of the group.</summary>
    public RedisKey Members(string group) => Prefix + ":gm:" + Encode(group);

    /// <summary>
    /// The start of every key of a group's stream, <c>P:{g:E(group)}</c>: the braces are a Redis Cluster hash tag, so a
    /// group's keys share one slot and the scripts that touch a group's stream stay inside it.
    /// </summary>
    public string StreamPrefix(string group) => Prefix + ":{g:" + Encode(group) + "}";

    /// <summary>STRING, expiring after <see cref="StreamExpiry"/> (with <see cref="Epoch"/> and <see cref="Stream"/>): the group's last seq in the current epoch.</summary>
    public RedisKey Seq(string group) => StreamPrefix(group) + ":seq";

    /// <summary>STRING, expiring with <see cref="Seq"/>: the group stream's epoch, created with it; when either is missing the stream's state was lost (or expired).</summary>
    public RedisKey Epoch(string group) => StreamPrefix(group) + ":ep";

    /// <summary>
    /// STREAM: the group's retained messages for <c>history</c>, entry id <c>{seq}-0</c>, fields <c>m</c> (the message's
    /// framed tail, as the channel carries it) and <c>t</c> (its ts); capped with <c>MAXLEN ~</c> and expiring with
    /// <see cref="Seq"/> and <see cref="Epoch"/>. Deleted when the stream starts a new epoch.
    /// </summary>
    public RedisKey Stream(string group) => StreamPrefix(group) + ":s";

    /// <summary>
    /// STRING, short-lived: the last publish batch this node ran for the group and its results (<c>{batch}|{json}</c>),
    /// so a batch whose reply was lost can be resolved (see <see cref="RedisScripts.ResolveBatch"/>).
    /// </summary>
    public static RedisKey BatchMark(string streamPrefix, string nodeId) => streamPrefix + ":pb:" + nodeId;

    /// <summary>
    /// STRING: the highest publish batch of this node for the group that was fenced (given up on; it never runs after),
    /// see <see cref="RedisScripts.ResolveBatch"/>.
    /// </summary>
    public static RedisKey BatchFence(string streamPrefix, string nodeId) => streamPrefix + ":pf:" + nodeId;

    /// <summary>
    /// STRING, with the idempotency window as expiry: the seq the user's send with this <c>id</c> got in the group, in the
    /// group's slot so the duplicate check is atomic with the seq (<paramref name="streamPrefix"/> is <see cref="StreamPrefix"/>).
    /// </summary>
    public static RedisKey SentId(string streamPrefix, string user, string id) => streamPrefix + ":id:" + Encode(user) + ":" + Encode(id);

    /// <summary>
    /// STRING, with the idempotency window as expiry: the group the user's send with this <c>id</c> went to (a reuse for
    /// another group is refused). Per user, so outside the group's slot: see docs/scaling.md on Redis Cluster.
    /// </summary>
    public RedisKey UsedId(string user, string id) => Prefix + ":u:" + Encode(user) + ":id:" + Encode(id);

    /// <summary>The group's channel: messages and joined/left events.</summary>
    public RedisChannel GroupChannel(string group) => RedisChannel.Literal(Prefix + ":ch:g:" + Encode(group));

    /// <summary>The member of <see cref="NodeMemberships"/> for a group and user (the encoded group has no space).</summary>
    public static string Pair(string group, string user) => Encode(group) + " " + user;

    public static string Encode(string id)
    {
        byte[] utf8 = Encoding.UTF8.GetBytes(id);
        return Convert.ToBase64String(utf8).TrimEnd('=').Replace('+', '-').Replace('/', '_');
    }

    public static string Decode(string encoded)
    {
        string base64 = encoded.Replace('-', '+').Replace('_', '/');
        base64 += (base64.Length % 4) switch { 2 => "==", 3 => "=", _ => string.Empty };
        return Encoding.UTF8.GetString(Convert.FromBase64String(base64));
    }
}
