using System.Diagnostics;
using FluentAssertions;
using GroupRelay.Internal;
using Xunit;

namespace GroupRelay.Core.Tests;

/// <summary>
/// Driven through the internal timestamp overload: "now" is a Stopwatch timestamp the test chooses. The bucket
/// starts full, so the first call at any now after construction sees exactly the burst.
/// </summary>
public sealed class TokenBucketTests
{
    private static readonly long Second = Stopwatch.Frequency;

    [Fact]
    public void TryTake_Burst_AllowsExactlyBurstAtOnce()
    {
        var bucket = new TokenBucket(permitsPerSecond: 10, burst: 5, floodRejectionsPerSecond: 100);
        long now = Stopwatch.GetTimestamp();

        for (int i = 0; i < 5; i++)
        {
            bucket.TryTake(now, out bool flooding).Should().BeTrue($"token {i + 1} of the burst");
            flooding.Should().BeFalse();
        }

        bucket.TryTake(now, out bool rejectedFlooding).Should().BeFalse();
        rejectedFlooding.Should().BeFalse();
    }

    [Fact]
    public void TryTake_AfterEmptying_RefillsAtRate()
    {
        var bucket = new TokenBucket(permitsPerSecond: 10, burst: 5, floodRejectionsPerSecond: 100);
        long now = Stopwatch.GetTimestamp();
        for (int i = 0; i < 5; i++)
        {
            bucket.TryTake(now, out _);
        }

        // A tenth of a second brings one token at 10 per second; a little less brings none.
        bucket.TryTake(now + (Second / 10) - (Second / 100), out _).Should().BeFalse();
        bucket.TryTake(now + (Second / 10), out _).Should().BeTrue();
        bucket.TryTake(now + (Second / 10), out _).Should().BeFalse();

        // Three tenths later, three more.
        long later = now + (4 * Second / 10);
        bucket.TryTake(later, out _).Should().BeTrue();
        bucket.TryTake(later, out _).Should().BeTrue();
        bucket.TryTake(later, out _).Should().BeTrue();
        bucket.TryTake(later, out _).Should().BeFalse();
    }

    [Fact]
    public void TryTake_LongIdle_RefillsNoMoreThanBurst()
    {
        var bucket = new TokenBucket(permitsPerSecond: 10, burst: 5, floodRejectionsPerSecond: 100);
        long now = Stopwatch.GetTimestamp();
        for (int i = 0; i < 5; i++)
        {
            bucket.TryTake(now, out _);
        }

        long hourLater = now + (3600 * Second);
        int taken = 0;
        while (bucket.TryTake(hourLater, out _))
        {
            taken++;
        }

        taken.Should().Be(5);
    }

    [Fact]
    public void TryTake_RejectionsReachThresholdWithinOneSecond_Flooding()
    {
        var bucket = new TokenBucket(permitsPerSecond: 0.001, burst: 1, floodRejectionsPerSecond: 3);
        long now = Stopwatch.GetTimestamp();
        bucket.TryTake(now, out _).Should().BeTrue();

        bucket.TryTake(now + 1, out bool first).Should().BeFalse();
        first.Should().BeFalse();
        bucket.TryTake(now + 2, out bool second).Should().BeFalse();
        second.Should().BeFalse();
        bucket.TryTake(now + 3, out bool third).Should().BeFalse();
        third.Should().BeTrue("the third rejection within a second reaches the threshold");
    }

    [Fact]
    public void TryTake_RejectionsSpreadOverSeconds_NeverFlooding()
    {
        var bucket = new TokenBucket(permitsPerSecond: 0.001, burst: 1, floodRejectionsPerSecond: 3);
        long now = Stopwatch.GetTimestamp();
        bucket.TryTake(now, out _).Should().BeTrue();

        // Two rejections per one-second window, for ten windows: a client that merely bursts is not flooding.
        for (int window = 0; window < 10; window++)
        {
            long start = now + (window * Second) + (window == 0 ? 1 : 0);
            bucket.TryTake(start, out bool a).Should().BeFalse();
            bucket.TryTake(start + 1, out bool b).Should().BeFalse();
            a.Should().BeFalse($"window {window}");
            b.Should().BeFalse($"window {window}");
        }
    }

    [Fact]
    public void TryTake_ThresholdOfOne_FirstRejectionIsFlooding()
    {
        var bucket = new TokenBucket(permitsPerSecond: 0.001, burst: 1, floodRejectionsPerSecond: 1);
        long now = Stopwatch.GetTimestamp();
        bucket.TryTake(now, out _);

        bucket.TryTake(now, out bool flooding).Should().BeFalse();
        flooding.Should().BeTrue();
    }

    [Fact]
    public void TryTake_TokenAvailable_NeverFloodingAndDoesNotCountAsRejection()
    {
        var bucket = new TokenBucket(permitsPerSecond: 1000, burst: 2, floodRejectionsPerSecond: 2);
        long now = Stopwatch.GetTimestamp();
        bucket.TryTake(now, out _);
        bucket.TryTake(now, out _);
        bucket.TryTake(now, out bool firstRejection).Should().BeFalse();
        firstRejection.Should().BeFalse();

        // Accepted requests in between do not reset or add to the count of rejections in the window.
        bucket.TryTake(now + (Second / 1000), out bool accepted).Should().BeTrue();
        accepted.Should().BeFalse();
        bucket.TryTake(now + (Second / 1000), out bool secondRejection).Should().BeFalse();
        secondRejection.Should().BeTrue();
    }

    [Fact]
    public void TryTake_SystemClock_AllowsBurstThenRejects()
    {
        var bucket = new TokenBucket(permitsPerSecond: 0.001, burst: 3, floodRejectionsPerSecond: 100);

        bucket.TryTake(out _).Should().BeTrue();
        bucket.TryTake(out _).Should().BeTrue();
        bucket.TryTake(out _).Should().BeTrue();
        bucket.TryTake(out bool flooding).Should().BeFalse();
        flooding.Should().BeFalse();
    }
}
