using System;
using System.Collections.Generic;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace GroupRelay.Internal;

/// <summary>What became of one publish batch.</summary>
internal enum BatchFate
{
    /// <summary>Redis ran the script: the results say what it published.</summary>
    Ran,

    /// <summary>It did not run and never will (not sent, or fenced after its reply was lost): nothing was delivered.</summary>
    Refused,

    /// <summary>Its reply was lost and Redis could not be asked within <see cref="PublishScript.ResolveWindow"/>: it may have run.</summary>
    Unknown,
}

/// <summary>
/// Runs the publish script (<see cref="RedisScripts.PublishBatch"/>) for one batch of a group, and learns for certain
/// what became of it. A reply lost after the script may have reached Redis (a timeout, a dropped connection) is not
/// taken for a refusal: the batch is resolved with <see cref="RedisScripts.ResolveBatch"/>, which finds the batch's mark
/// (it ran: its results) or fences it (it never runs afterwards), retried until Redis answers, for at most
/// <see cref="ResolveWindow"/>. So <c>unavailable</c> means "nothing was delivered", for sends with an <c>id</c> and
/// without; only when Redis stays out of reach for all of that window is the fate <see cref="BatchFate.Unknown"/>.
/// </summary>
/// <remarks>
/// Thread-safety in one sentence: stateless apart from an interlocked batch counter and a volatile stop flag; the caller
/// (one flush loop per group) runs one batch of a group at a time and holds the group's next batch while this resolves,
/// so a fence never races a later batch of the same node and group.
/// </remarks>
internal sealed class PublishScript
{
    /// <summary>How long a fence lasts: far beyond any delay of a command still on its way to Redis.</summary>
    internal static readonly TimeSpan FenceExpiry = TimeSpan.FromHours(1);

    private readonly RedisGuard _guard;
    private readonly RedisKeys _keys;
    private readonly NodeDelivery _delivery;
    private readonly TimeSpan _commandTimeout;
    private readonly RedisRelayMetrics _metrics;
    private readonly ILogger _logger;
    private long _nextBatch;
    private volatile bool _stopped;

    public PublishScript(RedisGuard guard, RedisKeys keys, NodeDelivery delivery, int commandTimeoutMilliseconds, RedisRelayMetrics metrics, ILogger logger)
    {
        _guard = guard;
        _keys = keys;
        _delivery = delivery;
        _metrics = metrics;
        _logger = logger;
        _commandTimeout = TimeSpan.FromMilliseconds(commandTimeoutMilliseconds);
        ResolveWindow = TimeSpan.FromSeconds(10) + (2 * _commandTimeout);

        // A mark must outlive every resolution of its batch; it is written by every batch, so it is short-lived.
        MarkExpiry = ResolveWindow + _commandTimeout + TimeSpan.FromMinutes(1);
    }

    /// <summary>How long a batch whose reply was lost is resolved before its fate is given up as unknown: 10 s plus twice the command timeout.</summary>
    public TimeSpan ResolveWindow { get; }

    /// <summary>How long Redis keeps a batch's mark (its number and results).</summary>
    public TimeSpan MarkExpiry { get; }

    /// <summary>The node stops: a resolution under way gives up (its batch's fate is unknown).</summary>
    public void Stop() => _stopped = true;

    /// <summary>Runs the batch's script; never throws for Redis failures (a bug still throws).</summary>
    public async Task<(BatchFate Fate, PublishResults? Results)> RunAsync(GroupQueue queue, List<PendingPublish> batch)
    {
        long number = System.Threading.Interlocked.Increment(ref _nextBatch);
        (RedisCallOutcome outcome, RedisResult reply) = await _guard.TryTrackedAsync(
            "publish",
            (Keys: Keys(queue, batch), Args: Arguments(queue, batch, number)),
            static (mux, s) => mux.GetDatabase().ScriptEvaluateAsync(RedisScripts.PublishBatch, s.Keys, s.Args)).ConfigureAwait(false);
        switch (outcome)
        {
            case RedisCallOutcome.Ok:
                PublishResults? results = PublishResults.FromReply((RedisResult[])reply!);
                return results is null ? (BatchFate.Refused, null) : (BatchFate.Ran, results);
            case RedisCallOutcome.NotSent:
                return (BatchFate.Refused, null);
            default:
                (BatchFate fate, PublishResults? resolved) = await ResolveAsync(queue, number).ConfigureAwait(false);
                string said = fate switch { BatchFate.Ran => "ran", BatchFate.Refused => "fenced", _ => "unknown" };
                _metrics.Resolved(said);
                if (fate == BatchFate.Unknown)
                {
                    RedisRelayLog.PublishOutcomeUnknown(_logger, batch.Count, ResolveWindow);
                }
                else
                {
                    RedisRelayLog.PublishResolved(_logger, batch.Count, said);
                }

                return (fate, resolved);
        }
    }

    /// <summary>Asks Redis what became of batch <paramref name="number"/> until it answers, for at most <see cref="ResolveWindow"/>.</summary>
    private async Task<(BatchFate Fate, PublishResults? Results)> ResolveAsync(GroupQueue queue, long number)
    {
        var keys = new[] { queue.MarkKey, queue.FenceKey };
        var args = new RedisValue[] { number, (long)FenceExpiry.TotalMilliseconds };
        long deadline = Environment.TickCount64 + (long)ResolveWindow.TotalMilliseconds;
        while (!_stopped)
        {
            (bool ok, RedisResult reply) = await _guard.TryWhenConnectedAsync(
                "publish_resolve",
                (Keys: keys, Args: args),
                static (mux, s) => mux.GetDatabase().ScriptEvaluateAsync(RedisScripts.ResolveBatch, s.Keys, s.Args)).ConfigureAwait(false);
            if (ok)
            {
                var answer = (RedisResult[])reply!;
                return (long)answer[0] == 1 ? (BatchFate.Ran, PublishResults.FromJson((string)answer[1]!)) : (BatchFate.Refused, null);
            }

            long left = deadline - Environment.TickCount64;
            if (left <= 0)
            {
                break;
            }

            await Task.Delay((int)Math.Min(left, 100)).ConfigureAwait(false);
        }

        return (BatchFate.Unknown, null);
    }

    private static RedisKey[] Keys(GroupQueue queue, List<PendingPublish> batch)
    {
        var keys = new List<RedisKey>(5 + (2 * batch.Count)) { queue.SeqKey, queue.EpochKey, queue.StreamKey, queue.MarkKey, queue.FenceKey };
        foreach (PendingPublish message in batch)
        {
            if (message.IdempotencyKeys is (RedisKey sent, RedisKey used))
            {
                keys.Add(sent);
                keys.Add(used);
            }
        }

        return keys.ToArray();
    }

    private RedisValue[] Arguments(GroupQueue queue, List<PendingPublish> batch, long number)
    {
        var args = new RedisValue[9 + (3 * batch.Count)];
        args[0] = queue.ChannelName;
        args[1] = StreamEpochs.NewCandidate();
        args[2] = (long)_delivery.IdempotencyWindow.TotalMilliseconds;
        args[3] = queue.GroupId;
        args[4] = batch.Count;
        args[5] = _delivery.HistoryMessagesPerGroup;
        args[6] = _keys.StreamExpiryMilliseconds;
        args[7] = number;
        args[8] = (long)MarkExpiry.TotalMilliseconds;
        for (int i = 0; i < batch.Count; i++)
        {
            args[9 + (3 * i)] = batch[i].IdempotencyKeys is null ? "0" : "1";
            args[10 + (3 * i)] = batch[i].Tail;
            args[11 + (3 * i)] = batch[i].Message.Timestamp;
        }

        return args;
    }
}
