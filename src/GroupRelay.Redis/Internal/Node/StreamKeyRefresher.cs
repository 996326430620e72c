using System;
using System.Collections.Generic;
using System.Threading.Tasks;
using StackExchange.Redis;

namespace GroupRelay.Internal;

/// <summary>
/// Keeps the stream keys of the groups this node holds an online member of from expiring: every quarter of
/// <see cref="RedisKeys.StreamExpiry"/> a round takes the node's groups (Core's local group index) and pushes back the
/// expiry of each group's epoch, seq and stream keys together (<see cref="RedisScripts.TouchStream"/>), at most
/// <see cref="MaxGroupsPerBeat"/> groups per heartbeat, pipelined: one round trip per beat. So an idle group with
/// members online keeps its epoch however long nobody writes, and only groups that nobody is online in and nobody writes
/// to expire. A beat that fails leaves the rest of the round for the next one.
/// </summary>
/// <remarks>Thread-safety in one sentence: the heartbeat loop is the only caller, one beat at a time, so the round's state needs no lock.</remarks>
internal sealed class StreamKeyRefresher
{
    /// <summary>
    /// Groups refreshed per heartbeat at most (a bounded pipeline per beat). With the defaults (a 1 s heartbeat, a
    /// 15-minute expiry refreshed every 3.75 minutes) a node keeps up to 225,000 groups alive; beyond that a round
    /// takes longer than a quarter of the expiry, and still ends well inside it up to 900,000.
    /// </summary>
    internal const int MaxGroupsPerBeat = 1000;

    private readonly RedisGuard _guard;
    private readonly RedisKeys _keys;
    private readonly InMemoryGroupDirectory _directory;
    private readonly long _roundMilliseconds;
    private IReadOnlyList<string>? _round;
    private int _next;
    private long _roundStarted;

    public StreamKeyRefresher(RedisGuard guard, RedisKeys keys, InMemoryGroupDirectory directory)
    {
        _guard = guard;
        _keys = keys;
        _directory = directory;
        _roundMilliseconds = Math.Max(1, keys.StreamExpiryMilliseconds / 4);
    }

    /// <summary>Refreshes the next groups of the round under way, or starts a round when a quarter of the expiry has passed since the last one began.</summary>
    /// <returns>How many groups this beat refreshed.</returns>
    public async Task<int> RefreshDueAsync()
    {
        long now = Environment.TickCount64;
        if (_round is null || _next >= _round.Count)
        {
            if (_round is not null && now - _roundStarted < _roundMilliseconds)
            {
                return 0;
            }

            _round = _directory.GetAllGroups();
            _next = 0;
            _roundStarted = now;
        }

        int count = Math.Min(MaxGroupsPerBeat, _round.Count - _next);
        if (count == 0)
        {
            return 0;
        }

        (bool ok, _) = await _guard.TryWhenConnectedAsync("stream_refresh", (Keys: _keys, Groups: _round, From: _next, Count: count), static (mux, s) =>
        {
            // Not awaited one by one: StackExchange.Redis writes them back to back on one connection (a pipeline).
            IDatabase db = mux.GetDatabase();
            var touches = new Task<RedisResult>[s.Count];
            var expiry = new RedisValue[] { s.Keys.StreamExpiryMilliseconds };
            for (int i = 0; i < touches.Length; i++)
            {
                string group = s.Groups[s.From + i];
                touches[i] = db.ScriptEvaluateAsync(RedisScripts.TouchStream, new[] { s.Keys.Seq(group), s.Keys.Epoch(group), s.Keys.Stream(group) }, expiry);
            }

            return Task.WhenAll(touches);
        }).ConfigureAwait(false);
        if (!ok)
        {
            return 0;
        }

        _next += count;
        return count;
    }
}
