using System;
using System.Collections.Generic;
using System.Threading.Tasks;
using GroupRelay.ScaleOut;
using StackExchange.Redis;
using StreamPosition = GroupRelay.ScaleOut.StreamPosition;

namespace GroupRelay.Internal;

/// <summary>
/// The positions of group streams (the <c>positions</c> of <c>welcome</c>): one script per group, all sent at once and
/// awaited together, so a user's groups cost one round trip whatever their slots on a Redis Cluster. A group with no
/// stream state yet starts one (a new epoch, seq 0) so the next caller sees the same position; a read pushes the expiry
/// of the group's stream keys back (a member is about to be online). While Redis is away the answer is what this node
/// delivered (counted as a fallback).
/// </summary>
/// <remarks>
/// Thread-safety in one sentence: stateless; each call builds its own requests, and what it learns goes to the thread-safe
/// <see cref="NodeDelivery"/>.
/// </remarks>
internal sealed class RedisStreamPositions
{
    private readonly RedisGuard _guard;
    private readonly RedisKeys _keys;
    private readonly NodeDelivery _delivery;

    public RedisStreamPositions(RedisGuard guard, RedisKeys keys, NodeDelivery delivery)
    {
        _guard = guard;
        _keys = keys;
        _delivery = delivery;
    }

    public async ValueTask<IReadOnlyList<StreamPosition>> GetAsync(IReadOnlyList<string> groupIds)
    {
        var positions = new StreamPosition[groupIds.Count];
        if (positions.Length == 0)
        {
            return positions;
        }

        (bool ok, RedisResult[] replies) = await _guard.TryAsync("positions", (Keys: _keys, Groups: groupIds), static (mux, s) =>
        {
            // Not awaited one by one: StackExchange.Redis writes them back to back on one connection (a pipeline).
            IDatabase db = mux.GetDatabase();
            var reads = new Task<RedisResult>[s.Groups.Count];
            for (int i = 0; i < reads.Length; i++)
            {
                string group = s.Groups[i];
                reads[i] = db.ScriptEvaluateAsync(RedisScripts.Position, new[] { s.Keys.Seq(group), s.Keys.Epoch(group), s.Keys.Stream(group) }, new RedisValue[] { StreamEpochs.NewCandidate(), s.Keys.StreamExpiryMilliseconds });
            }

            return Task.WhenAll(reads);
        }).ConfigureAwait(false);

        for (int i = 0; i < positions.Length; i++)
        {
            if (ok)
            {
                var reply = (RedisResult[])replies[i]!;
                positions[i] = new StreamPosition((string)reply[0]!, (long)reply[1]);
                _delivery.Observe(groupIds[i], positions[i]);
            }
            else
            {
                positions[i] = _delivery.KnownPosition(groupIds[i]);
            }
        }

        return positions;
    }
}
