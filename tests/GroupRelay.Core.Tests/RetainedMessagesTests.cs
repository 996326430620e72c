using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using FluentAssertions;
using GroupRelay.Internal;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace GroupRelay.Core.Tests;

/// <summary>
/// <see cref="RetainedMessages.Read"/> against the obvious answer (filter the retained seqs), for every <c>after</c>
/// and several limits, after per-group, byte and age evictions: a read that starts from either end of the chain
/// must return exactly the same page.
/// </summary>
public sealed class RetainedMessagesTests
{
    private static byte[] Frame(long seq) => Encoding.UTF8.GetBytes($"{{\"seq\":{seq}}}");

    private static void ReadsMatchTheRetainedSeqs(RetainedMessages retained, RetainedMessages.Retention group, IReadOnlyList<long> kept, long newest)
    {
        foreach (int limit in new[] { 1, 3, 1000 })
        {
            for (long after = 0; after <= newest + 2; after++)
            {
                (List<ReadOnlyMemory<byte>> frames, long? oldest, long lastReplayed) = retained.Read(group, after, limit);
                long[] expected = kept.Where(s => s > after).Take(limit).ToArray();
                frames.Select(f => Encoding.UTF8.GetString(f.Span)).Should().Equal(expected.Select(s => Encoding.UTF8.GetString(Frame(s))), $"after {after}, limit {limit}");
                oldest.Should().Be(kept.Count == 0 ? null : kept[0]);
                lastReplayed.Should().Be(expected.Length == 0 ? after : expected[^1]);
            }
        }
    }

    [Fact]
    public void Read_AfterPerGroupEvictions_MatchesTheRetainedSeqs_FromEitherEnd()
    {
        var retained = new RetainedMessages(new GroupRelayOptions { HistoryMessagesPerGroup = 40 }, new FakeTimeProvider());
        var a = new RetainedMessages.Retention();
        var b = new RetainedMessages.Retention();
        for (long seq = 1; seq <= 100; seq++)
        {
            retained.Append(a, seq, Frame(seq));
            retained.Append(b, seq, Frame(seq));
        }

        ReadsMatchTheRetainedSeqs(retained, a, Enumerable.Range(61, 40).Select(i => (long)i).ToList(), 100);
        ReadsMatchTheRetainedSeqs(retained, b, Enumerable.Range(61, 40).Select(i => (long)i).ToList(), 100);
    }

    [Fact]
    public void Read_AfterByteAndAgeEvictions_MatchesTheRetainedSeqs()
    {
        var clock = new FakeTimeProvider();
        var retained = new RetainedMessages(new GroupRelayOptions { HistoryMessagesPerGroup = 1000, HistoryMaxBytes = 1024 + 1, HistoryMaxAge = TimeSpan.FromMinutes(1) }, clock);
        var group = new RetainedMessages.Retention();
        for (long seq = 1; seq <= 300; seq++)
        {
            retained.Append(group, seq, Frame(seq));
        }

        // The byte bound keeps the newest that fit in 1,025 bytes.
        long keptFrom = 300 - (retained.Count - 1);
        retained.Bytes.Should().BeLessThanOrEqualTo(1025);
        ReadsMatchTheRetainedSeqs(retained, group, Enumerable.Range((int)keptFrom, (int)retained.Count).Select(i => (long)i).ToList(), 300);

        clock.Advance(TimeSpan.FromSeconds(61));
        retained.Append(group, 301, Frame(301));
        ReadsMatchTheRetainedSeqs(retained, group, new List<long> { 301 }, 301);
    }
}
