using System;
using System.Diagnostics;

namespace GroupRelay.Internal;

/// <summary>
/// Per-connection request rate limit: a token bucket plus a count of rejections in the current second,
/// which tells a client that merely bursts from one that floods.
/// </summary>
/// <remarks>Not thread-safe: only the connection's receive loop calls it, one frame at a time.</remarks>
internal sealed class TokenBucket
{
    private readonly double _ratePerTick;
    private readonly double _capacity;
    private readonly int _floodThreshold;
    private double _tokens;
    private long _lastRefill;
    private long _windowStart;
    private int _rejectionsInWindow;

    public TokenBucket(double permitsPerSecond, int burst, int floodRejectionsPerSecond)
    {
        _ratePerTick = permitsPerSecond / Stopwatch.Frequency;
        _capacity = burst;
        _tokens = burst;
        _floodThreshold = floodRejectionsPerSecond;
        _lastRefill = Stopwatch.GetTimestamp();
        _windowStart = _lastRefill;
    }

    /// <summary>Takes a token. Returns false when none is left; <paramref name="flooding"/> then says whether the connection must be closed.</summary>
    public bool TryTake(out bool flooding) => TryTake(Stopwatch.GetTimestamp(), out flooding);

    internal bool TryTake(long now, out bool flooding)
    {
        flooding = false;
        _tokens = Math.Min(_capacity, _tokens + ((now - _lastRefill) * _ratePerTick));
        _lastRefill = now;
        if (_tokens >= 1)
        {
            _tokens -= 1;
            return true;
        }

        if (now - _windowStart >= Stopwatch.Frequency)
        {
            _windowStart = now;
            _rejectionsInWindow = 0;
        }

        flooding = ++_rejectionsInWindow >= _floodThreshold;
        return false;
    }
}
