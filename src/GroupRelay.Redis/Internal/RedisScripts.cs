namespace GroupRelay.Internal;

/// <summary>
/// The Lua scripts. Each runs atomically in Redis; ids only ever arrive as KEYS/ARGV values, never inside the
/// script text. They assume one Redis (or one primary): keys are built from the prefix inside some of them.
/// </summary>
/// <remarks>Thread-safety: constants.</remarks>
internal static class RedisScripts
{
    /// <summary>
    /// KEYS[1] seq counter; ARGV[1] channel, ARGV[2] floor (the highest seq the calling node has seen), ARGV[3] how many
    /// messages, ARGV[4] the batch (see <see cref="RedisPayload.Batch"/>). Takes that many seqs and PUBLISHes the batch
    /// with its first seq in one atomic step: the publication order on the channel is the seq order. Returns the last seq.
    /// </summary>
    public const string PublishBatch = """
        local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
        local floor = tonumber(ARGV[2])
        if cur < floor then redis.call('SET', KEYS[1], floor) end
        local n = tonumber(ARGV[3])
        local last = redis.call('INCRBY', KEYS[1], n)
        redis.call('PUBLISH', ARGV[1], 'B' .. (last - n + 1) .. '|' .. ARGV[4])
        return last
        """;

    /// <summary>KEYS[1] seq counter; ARGV[1] floor. Raises the counter to at least the floor.</summary>
    public const string RaiseSeq = """
        local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
        if cur < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
        return cur
        """;

    /// <summary>KEYS[1] node users, KEYS[2] online, KEYS[3] status; ARGV[1] user, ARGV[2] connections added. Returns the user's connections on all nodes.</summary>
    public const string AddConnection = """
        local n = tonumber(ARGV[2])
        redis.call('HINCRBY', KEYS[1], ARGV[1], n)
        local c = redis.call('HINCRBY', KEYS[2], ARGV[1], n)
        if c == n then redis.call('HDEL', KEYS[3], ARGV[1]) end
        return c
        """;

    /// <summary>Same keys. Returns the user's connections left on all nodes (0: the user went offline).</summary>
    public const string RemoveConnection = """
        local n = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
        if n <= 0 then return tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0') end
        if n == 1 then redis.call('HDEL', KEYS[1], ARGV[1]) else redis.call('HINCRBY', KEYS[1], ARGV[1], -1) end
        local c = redis.call('HINCRBY', KEYS[2], ARGV[1], -1)
        if c <= 0 then
          redis.call('HDEL', KEYS[2], ARGV[1])
          redis.call('HDEL', KEYS[3], ARGV[1])
          return 0
        end
        return c
        """;

    /// <summary>KEYS[1] node memberships, KEYS[2] group members; ARGV[1] pair, ARGV[2] user.</summary>
    public const string AddMember = """
        if redis.call('SADD', KEYS[1], ARGV[1]) == 1 then return redis.call('HINCRBY', KEYS[2], ARGV[2], 1) end
        return 0
        """;

    /// <summary>Same keys.</summary>
    public const string RemoveMember = """
        if redis.call('SREM', KEYS[1], ARGV[1]) == 1 then
          local c = redis.call('HINCRBY', KEYS[2], ARGV[2], -1)
          if c <= 0 then redis.call('HDEL', KEYS[2], ARGV[2]) end
          return c
        end
        return -1
        """;

    /// <summary>KEYS[1] online, KEYS[2] status; ARGV[1] user. Returns {online, status or false}.</summary>
    public const string GetState = """
        local c = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
        if c <= 0 then return {0, false} end
        return {1, redis.call('HGET', KEYS[2], ARGV[1])}
        """;

    /// <summary>KEYS[1] online, KEYS[2] status; ARGV[1] user, ARGV[2] '1' to set or '0' to clear, ARGV[3] status.</summary>
    public const string SetStatus = """
        if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
        if ARGV[2] == '1' then redis.call('HSET', KEYS[2], ARGV[1], ARGV[3]) else redis.call('HDEL', KEYS[2], ARGV[1]) end
        return 1
        """;

    /// <summary>
    /// KEYS[1] nodes; ARGV[1] node id, ARGV[2] node timeout (ms). Refreshes the node's liveness with Redis's clock
    /// (no clock skew between nodes). Returns {1 when the entry was missing (first beat, reaped, or Redis lost its
    /// data), dead node ids...}.
    /// </summary>
    public const string Heartbeat = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local added = redis.call('ZADD', KEYS[1], now, ARGV[1])
        local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
        table.insert(dead, 1, added)
        return dead
        """;

    /// <summary>
    /// KEYS[1] nodes, KEYS[2] online, KEYS[3] status; ARGV[1] prefix, ARGV[2] node id, ARGV[3] 'reap' (a dead node:
    /// only the first caller does it) or 'self' (a node clearing its own entries before writing them again).
    /// Removes the node's contributions and returns {users now offline, "E(group) user" pairs now gone}.
    /// </summary>
    public const string RemoveNode = """
        if ARGV[3] == 'reap' then
          if redis.call('ZREM', KEYS[1], ARGV[2]) == 0 then return {{}, {}} end
        end
        local nu = ARGV[1] .. ':n:' .. ARGV[2] .. ':u'
        local nm = ARGV[1] .. ':n:' .. ARGV[2] .. ':m'
        local offline = {}
        local users = redis.call('HGETALL', nu)
        for i = 1, #users, 2 do
          local u = users[i]
          local c = redis.call('HINCRBY', KEYS[2], u, -tonumber(users[i + 1]))
          if c <= 0 then
            redis.call('HDEL', KEYS[2], u)
            if ARGV[3] == 'reap' then redis.call('HDEL', KEYS[3], u) end
            table.insert(offline, u)
          end
        end
        local gone = {}
        local pairs = redis.call('SMEMBERS', nm)
        for _, p in ipairs(pairs) do
          local sp = string.find(p, ' ', 1, true)
          local gk = ARGV[1] .. ':gm:' .. string.sub(p, 1, sp - 1)
          local u = string.sub(p, sp + 1)
          local c = redis.call('HINCRBY', gk, u, -1)
          if c <= 0 then
            redis.call('HDEL', gk, u)
            table.insert(gone, p)
          end
        end
        redis.call('DEL', nu, nm)
        return {offline, gone}
        """;

    /// <summary>
    /// KEYS[1] online, KEYS[2] group members, KEYS[3] nodes; ARGV[1] prefix, ARGV[2] user, ARGV[3] '1' to add or '0' to
    /// remove, ARGV[4] events channel, ARGV[5] the change's payload. Returns -1 (nothing published) when the user is
    /// offline, or already a member (add), or not a member (remove); otherwise PUBLISHes the change and returns how many
    /// live nodes hold a connection of the user (each acknowledges once it applied the change).
    /// </summary>
    public const string ChangeMembership = """
        if redis.call('HEXISTS', KEYS[1], ARGV[2]) == 0 then return -1 end
        if (redis.call('HEXISTS', KEYS[2], ARGV[2]) == 1) == (ARGV[3] == '1') then return -1 end
        local holders = 0
        for _, node in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do
          if redis.call('HEXISTS', ARGV[1] .. ':n:' .. node .. ':u', ARGV[2]) == 1 then holders = holders + 1 end
        end
        redis.call('PUBLISH', ARGV[4], ARGV[5])
        return holders
        """;
}
