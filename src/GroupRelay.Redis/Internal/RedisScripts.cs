namespace GroupRelay.Internal;

/// <summary>
/// The Lua scripts. Each runs atomically in Redis; ids only ever arrive as KEYS/ARGV values, never inside the
/// script text. They assume one Redis (or one primary): keys are built from the prefix inside some of them, and the
/// publish script writes each idempotency key's per-user record outside the group's slot (docs/scaling.md, Cluster).
/// </summary>
/// <remarks>Thread-safety: constants.</remarks>
internal static class RedisScripts
{
    /// <summary>
    /// KEYS[1] the group's seq, KEYS[2] its epoch, KEYS[3] its Redis Stream, KEYS[4] this node's batch mark for the group,
    /// KEYS[5] its batch fence, then for each message with an idempotency key its sent-id key (group slot) and its used-id
    /// key (per user); ARGV[1] channel, ARGV[2] epoch candidate, ARGV[3] idempotency window (ms), ARGV[4] group, ARGV[5]
    /// how many messages, ARGV[6] messages retained per group (0: none), ARGV[7] the stream keys' expiry (ms), ARGV[8] the
    /// batch's number (increasing per node), ARGV[9] the batch mark's expiry (ms), then per message '1' or '0' (has a
    /// key), its framed tail (see <see cref="RedisPayload.FramedMessageTail"/>) and its ts.
    /// <para>
    /// A batch at or below the node's fence was given up on (<see cref="ResolveBatch"/>): it does nothing and returns
    /// {'F'}. When the epoch or the seq is missing (first message, or the stream's state was lost or expired) the
    /// candidate becomes the epoch, the numbering restarts from 0 and the old stream (if any) is deleted. A message whose
    /// key was sent to this group inside the window is a duplicate (its first seq, negated); one whose key went to
    /// another group is a conflict (that group); the others take the next seqs, record their keys (SET with expiry), are
    /// appended to the stream (entry id <c>{seq}-0</c>, fields <c>m</c> the framed tail and <c>t</c> the ts; <c>MAXLEN ~</c>
    /// the retention) and are PUBLISHed as one batch (<c>B{epoch}|{first seq}|{count}|</c>, then their framed tails), all
    /// in one atomic step, so publication order = seq order = stream order. The epoch, seq and stream keys get the same
    /// expiry (they expire together); the batch mark records the batch and its results. Returns {epoch, first seq,
    /// published count, one result per message}.
    /// </para>
    /// </summary>
    public const string PublishBatch = """
        local fenced = redis.call('GET', KEYS[5])
        if fenced and tonumber(fenced) >= tonumber(ARGV[8]) then return {'F'} end
        local ttl = ARGV[7]
        local ep = redis.call('GET', KEYS[2])
        local cur = redis.call('GET', KEYS[1])
        if not ep or not cur then
          ep = ARGV[2]
          cur = 0
          redis.call('SET', KEYS[2], ep, 'PX', ttl)
          redis.call('DEL', KEYS[3])
        else
          cur = tonumber(cur)
          redis.call('PEXPIRE', KEYS[2], ttl)
        end
        local window, group, n = ARGV[3], ARGV[4], tonumber(ARGV[5])
        local keep = tonumber(ARGV[6])
        local results = {ep, cur + 1, 0}
        local tails = {}
        local k = 6
        for i = 1, n do
          local a = 10 + 3 * (i - 1)
          local r
          if ARGV[a] == '1' then
            local sent, used = KEYS[k], KEYS[k + 1]
            k = k + 2
            local first = redis.call('GET', sent)
            local other = redis.call('GET', used)
            if first then
              r = -tonumber(first)
            elseif other and other ~= group then
              r = other
            else
              r = cur + #tails + 1
              redis.call('SET', sent, r, 'PX', window)
              redis.call('SET', used, group, 'PX', window)
            end
          else
            r = cur + #tails + 1
          end
          if type(r) == 'number' and r > 0 then
            table.insert(tails, ARGV[a + 1])
            if keep > 0 then
              redis.call('XADD', KEYS[3], 'MAXLEN', '~', keep, r .. '-0', 'm', ARGV[a + 1], 't', ARGV[a + 2])
            end
          end
          results[3 + i] = r
        end
        results[3] = #tails
        redis.call('SET', KEYS[1], cur + #tails, 'PX', ttl)
        redis.call('PEXPIRE', KEYS[3], ttl)
        if #tails > 0 then
          redis.call('PUBLISH', ARGV[1], 'B' .. ep .. '|' .. (cur + 1) .. '|' .. #tails .. '|' .. table.concat(tails))
        end
        redis.call('SET', KEYS[4], ARGV[8] .. '|' .. cjson.encode(results), 'PX', ARGV[9])
        return results
        """;

    /// <summary>
    /// Settles a publish batch whose reply was lost (a timeout, a dropped connection): KEYS[1] the node's batch mark for
    /// the group, KEYS[2] its batch fence; ARGV[1] the batch's number, ARGV[2] the fence's expiry (ms). When the mark names
    /// the batch, it ran: returns {1, its results as JSON}. Otherwise it has not run, and the fence (raised to the batch)
    /// makes sure it never will: returns {0}. Either way the answer is final, whatever order Redis sees the batch and this
    /// script in (the node sends it no sooner than the batch, and holds the group's next batch until it answered).
    /// </summary>
    public const string ResolveBatch = """
        local mark = redis.call('GET', KEYS[1])
        if mark then
          local bar = string.find(mark, '|', 1, true)
          if string.sub(mark, 1, bar - 1) == ARGV[1] then return {1, string.sub(mark, bar + 1)} end
        end
        local fenced = redis.call('GET', KEYS[2])
        if not fenced or tonumber(fenced) < tonumber(ARGV[1]) then
          redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
        end
        return {0}
        """;

    /// <summary>
    /// The start of <see cref="Position"/> and <see cref="ReadHistory"/> (same KEYS, ARGV[1] and ARGV[2]): reads the
    /// group's epoch and seq into <c>ep</c> and <c>cur</c> and pushes the expiry of the three keys back to ARGV[2] (ms),
    /// or, when the stream has no state (or half of it: a lost or expired key), starts one with the candidate epoch,
    /// seq 0 and an empty Redis Stream, expiring after ARGV[2]. Ends with a line feed, so a script can follow it.
    /// </summary>
    private const string LoadOrStartStream = """
        local ep = redis.call('GET', KEYS[2])
        local cur = redis.call('GET', KEYS[1])
        if not ep or not cur then
          ep = ARGV[1]
          cur = 0
          redis.call('SET', KEYS[2], ep, 'PX', ARGV[2])
          redis.call('SET', KEYS[1], 0, 'PX', ARGV[2])
          redis.call('DEL', KEYS[3])
        else
          redis.call('PEXPIRE', KEYS[2], ARGV[2])
          redis.call('PEXPIRE', KEYS[1], ARGV[2])
          redis.call('PEXPIRE', KEYS[3], ARGV[2])
        end

        """;

    /// <summary>
    /// KEYS[1] the group's seq, KEYS[2] its epoch, KEYS[3] its Redis Stream; ARGV[1] epoch candidate, ARGV[2] the stream
    /// keys' expiry (ms). Returns {epoch, seq}; a stream with no state (or half of it: a lost or expired key) starts one
    /// with the candidate and seq 0 (and an empty stream), so the next caller sees the same position. A read pushes the
    /// keys' expiry back: whoever reads a position is a member about to be online.
    /// </summary>
    public const string Position = LoadOrStartStream + """
        return {ep, tonumber(cur)}
        """;

    /// <summary>
    /// <c>history</c> in one round trip. KEYS[1] the group's seq, KEYS[2] its epoch, KEYS[3] its Redis Stream; ARGV[1]
    /// epoch candidate, ARGV[2] the stream keys' expiry (ms), ARGV[3] after, ARGV[4] limit, ARGV[5] messages retained per
    /// group, ARGV[6] the oldest ts still retained (the reader's clock minus the age), ARGV[7] the client's epoch ('' for
    /// the current one).
    /// <para>
    /// Reads (or starts, as <see cref="Position"/> does) the position, then, in the same epoch only, the entries after
    /// <c>after</c> with XRANGE: at most <c>limit</c>, only the latest <c>ARGV[5]</c> seqs (MAXLEN is approximate, this
    /// makes the count exact), skipping the oldest entries whose ts is older than the age. Returns {epoch, seq, 1 when
    /// the epoch matched else 0, then seq and framed tail of each entry, oldest first}.
    /// </para>
    /// </summary>
    public const string ReadHistory = LoadOrStartStream + """
        cur = tonumber(cur)
        if ARGV[7] ~= '' and ARGV[7] ~= ep then return {ep, cur, 0} end
        local out = {ep, cur, 1}
        local after, limit, keep, oldest = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
        local from = math.max(after + 1, cur - keep + 1)
        if keep <= 0 or from > cur then return out end
        while true do
          local entries = redis.call('XRANGE', KEYS[3], from .. '-0', cur .. '-0', 'COUNT', limit)
          for _, e in ipairs(entries) do
            local id, f = e[1], e[2]
            local m, t
            for j = 1, #f, 2 do
              if f[j] == 'm' then m = f[j + 1] elseif f[j] == 't' then t = tonumber(f[j + 1]) end
            end
            if #out > 3 or t >= oldest then
              table.insert(out, tonumber(string.match(id, '^(%d+)')))
              table.insert(out, m)
            end
          end
          if #out > 3 or #entries < limit then return out end
          from = tonumber(string.match(entries[#entries][1], '^(%d+)')) + 1
        end
        """;

    /// <summary>
    /// The periodic refresh of a group that this node holds a member of: KEYS[1] the group's seq, KEYS[2] its epoch, KEYS[3]
    /// its Redis Stream; ARGV[1] the stream keys' expiry (ms). When the epoch and the seq both exist, the expiry of all
    /// three is pushed back to ARGV[1] and 1 is returned; a stream with no state, or half of it, is left alone (0): the
    /// next script that needs it starts a new epoch, and refreshing half a state would only keep it half.
    /// </summary>
    public const string TouchStream = """
        if redis.call('EXISTS', KEYS[1], KEYS[2]) < 2 then return 0 end
        redis.call('PEXPIRE', KEYS[1], ARGV[1])
        redis.call('PEXPIRE', KEYS[2], ARGV[1])
        redis.call('PEXPIRE', KEYS[3], ARGV[1])
        return 1
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
    /// KEYS[1] online, KEYS[2] group members, KEYS[3] nodes, KEYS[4] the group's seq, KEYS[5] its epoch, KEYS[6] its Redis
    /// Stream; ARGV[1] prefix, ARGV[2] user, ARGV[3] '1' to add or '0' to remove, ARGV[4] events channel, ARGV[5] the
    /// change's payload, ARGV[6] epoch candidate, ARGV[7] the stream keys' expiry (ms). Returns -1 (nothing published) when the user is offline, or already a member (add), or not a
    /// member (remove); otherwise PUBLISHes the change (an addition with the group's position appended as
    /// <c>{epoch}|{seq}</c>, read (and its expiry pushed back) as <see cref="Position"/> does) and returns how many live nodes hold a connection of
    /// the user (each acknowledges once it applied the change).
    /// </summary>
    public const string ChangeMembership = """
        if redis.call('HEXISTS', KEYS[1], ARGV[2]) == 0 then return -1 end
        if (redis.call('HEXISTS', KEYS[2], ARGV[2]) == 1) == (ARGV[3] == '1') then return -1 end
        local holders = 0
        for _, node in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do
          if redis.call('HEXISTS', ARGV[1] .. ':n:' .. node .. ':u', ARGV[2]) == 1 then holders = holders + 1 end
        end
        local payload = ARGV[5]
        if ARGV[3] == '1' then
          local ep = redis.call('GET', KEYS[5])
          local cur = redis.call('GET', KEYS[4])
          if not ep or not cur then
            ep = ARGV[6]
            cur = '0'
            redis.call('SET', KEYS[5], ep, 'PX', ARGV[7])
            redis.call('SET', KEYS[4], 0, 'PX', ARGV[7])
            redis.call('DEL', KEYS[6])
          else
            redis.call('PEXPIRE', KEYS[5], ARGV[7])
            redis.call('PEXPIRE', KEYS[4], ARGV[7])
            redis.call('PEXPIRE', KEYS[6], ARGV[7])
          end
          payload = payload .. ep .. '|' .. cur
        end
        redis.call('PUBLISH', ARGV[4], payload)
        return holders
        """;
}
