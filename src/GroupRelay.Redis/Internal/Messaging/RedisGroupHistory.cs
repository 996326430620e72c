using System;
using System.Collections.Generic;
using System.Threading.Tasks;
using GroupRelay.ScaleOut;
using StackExchange.Redis;
using StreamPosition = GroupRelay.ScaleOut.StreamPosition;

namespace GroupRelay.Internal;

/// <summary>
/// <c>history</c> through Redis (PROTOCOL.md section 3): one script reads the group's position and the retained entries
/// of its Redis Stream after the asked seq (XRANGE), in one round trip and one atomic step, and each entry becomes the
/// <c>message</c> frame it was delivered as, byte for byte (<see cref="RelayLocalDelivery.WriteMessageFrame"/>, from the
/// same fields the channel carried). While Redis is away (or does not answer in time) nothing is replayed and the answer
/// is <see cref="HistoryPage.Unavailable"/>: the client gets the error <c>unavailable</c> (PROTOCOL.md section 4), as for
/// <c>send</c>, rather than a position this node cannot vouch for.
/// </summary>
/// <remarks>Thread-safety in one sentence: stateless; each call builds its own request and frames.</remarks>
internal sealed class RedisGroupHistory
{
    private readonly RedisGuard _guard;
    private readonly RedisKeys _keys;
    private readonly NodeDelivery _delivery;

    public RedisGroupHistory(RedisGuard guard, RedisKeys keys, NodeDelivery delivery)
    {
        _guard = guard;
        _keys = keys;
        _delivery = delivery;
    }

    public async ValueTask<HistoryPage> ReadAsync(string groupId, long after, string? epoch, int limit)
    {
        // Age is measured on the relay clock (the ts stamped into each frame), so a host's TimeProvider governs it here
        // as it does in process; the stream's own expiry only removes the key of an idle group.
        long oldest = _delivery.GetTimestamp() - (long)_delivery.HistoryMaxAge.TotalMilliseconds;
        var keys = new[] { _keys.Seq(groupId), _keys.Epoch(groupId), _keys.Stream(groupId) };
        var args = new RedisValue[] { StreamEpochs.NewCandidate(), _keys.StreamExpiryMilliseconds, after, limit, _delivery.HistoryMessagesPerGroup, oldest, epoch ?? string.Empty };
        (bool ok, RedisResult reply) = await _guard.TryWhenConnectedAsync(
            "history",
            (Keys: keys, Args: args),
            static (mux, s) => mux.GetDatabase().ScriptEvaluateAsync(RedisScripts.ReadHistory, s.Keys, s.Args)).ConfigureAwait(false);
        if (!ok)
        {
            return new HistoryPage(Array.Empty<ReadOnlyMemory<byte>>(), default, Complete: false) { Unavailable = true };
        }

        var results = (RedisResult[])reply!;
        var position = new StreamPosition((string)results[0]!, (long)results[1]);
        _delivery.Observe(groupId, position);
        if ((long)results[2] == 0)
        {
            // Another epoch: its messages are gone with it; the client reloads that group's past from the host.
            return new HistoryPage(Array.Empty<ReadOnlyMemory<byte>>(), position, Complete: false);
        }

        var frames = new List<ReadOnlyMemory<byte>>((results.Length - 3) / 2);
        long first = 0, last = after;
        for (int i = 3; i + 1 < results.Length; i += 2)
        {
            long seq = (long)results[i];
            byte[] tail = (byte[])results[i + 1]!;
            ReadOnlySpan<byte> framed = tail;
            ReadOnlySpan<byte> body = RedisPayload.ReadMessageTail(RedisPayload.ReadBytes(ref framed), out _, out _, out _, out string from, out long timestamp, out bool compact);
            frames.Add(NodeDelivery.WriteMessageFrame(groupId, from, seq, timestamp, body, compact));
            first = first == 0 ? seq : first;
            last = seq;
        }

        // Complete: nothing missing at the start (older entries gone, by count or age) and nothing cut by the limit.
        bool complete = after >= position.Seq || (frames.Count > 0 && first == after + 1 && last == position.Seq);
        return new HistoryPage(frames, position, complete);
    }
}
