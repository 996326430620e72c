using System;
using System.Collections.Generic;

namespace GroupRelay.Client.Internal;

/// <summary>
/// <see cref="GroupRelayClientOptions.ReconnectDelays"/> with jitter: the n-th delay for the n-th attempt, the last one
/// for every later attempt (never gives up).
/// </summary>
internal sealed class DefaultReconnectPolicy : IRelayReconnectPolicy
{
    private readonly TimeSpan[] _delays;
    private readonly double _jitter;

    public DefaultReconnectPolicy(IList<TimeSpan> delays, double jitter)
    {
        _delays = new TimeSpan[delays.Count];
        delays.CopyTo(_delays, 0);
        _jitter = jitter;
    }

    public TimeSpan? NextRetryDelay(RelayRetryContext retryContext)
    {
        TimeSpan delay = _delays[(int)Math.Min(retryContext.PreviousRetryCount, _delays.Length - 1)];
        if (delay == TimeSpan.Zero || _jitter == 0)
        {
            return delay;
        }

        // Not for security: spreads reconnects of many clients dropped at once.
#pragma warning disable CA5394
        double factor = 1 + (((Random.Shared.NextDouble() * 2) - 1) * _jitter);
#pragma warning restore CA5394
        return TimeSpan.FromTicks((long)(delay.Ticks * factor));
    }
}
