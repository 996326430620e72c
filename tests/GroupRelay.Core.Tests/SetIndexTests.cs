using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using FluentAssertions;
using GroupRelay.Core.Tests.Infrastructure;
using GroupRelay.Internal;
using Xunit;

namespace GroupRelay.Core.Tests;

public sealed class SetIndexTests
{
    private const int Tasks = 8;
    private const int OpsPerTask = 10_000;

    [Fact]
    public void Add_FirstValue_CreatesKeyAndReportsFirst()
    {
        var index = new SetIndex<string>(StringComparer.Ordinal);

        index.Add("g", "a", out bool first).Should().BeTrue();
        first.Should().BeTrue();
        index.Add("g", "b", out first).Should().BeTrue();
        first.Should().BeFalse();
        index.Add("g", "a", out first).Should().BeFalse("a value is in a set once");
        first.Should().BeFalse();

        index.KeyCount.Should().Be(1);
        index.Get("g").Should().BeEquivalentTo("a", "b");
    }

    [Fact]
    public void Remove_LastValue_RemovesKeyAndReportsLast()
    {
        var index = new SetIndex<string>(StringComparer.Ordinal);
        index.Add("g", "a", out _);
        index.Add("g", "b", out _);

        index.Remove("g", "a", out bool last).Should().BeTrue();
        last.Should().BeFalse();
        index.Remove("g", "a", out last).Should().BeFalse();
        last.Should().BeFalse();
        index.Remove("g", "b", out last).Should().BeTrue();
        last.Should().BeTrue();

        index.KeyCount.Should().Be(0);
        index.ContainsKey("g").Should().BeFalse();
        index.Get("g").Should().BeEmpty();
        index.Remove("missing", "a", out last).Should().BeFalse();
    }

    [Fact]
    public void RemoveKey_ExistingKey_ReturnsAllValuesAndRemovesKey()
    {
        var index = new SetIndex<string>(StringComparer.Ordinal);
        index.Add("u", "g1", out _);
        index.Add("u", "g2", out _);
        index.Add("other", "g1", out _);

        index.RemoveKey("u").Should().BeEquivalentTo("g1", "g2");

        index.ContainsKey("u").Should().BeFalse();
        index.Contains("u", "g1").Should().BeFalse();
        index.Get("other").Should().Equal("g1");
        index.RemoveKey("u").Should().BeEmpty();
    }

    [Fact]
    public void Get_Unchanged_ReturnsSameSnapshotAndANewOneAfterAChange()
    {
        var index = new SetIndex<string>(StringComparer.Ordinal);
        index.Add("g", "a", out _);

        string[] first = index.Get("g");
        index.Get("g").Should().BeSameAs(first, "an unchanged key is read without allocating");

        index.Add("g", "b", out _);
        string[] second = index.Get("g");
        second.Should().NotBeSameAs(first);
        first.Should().Equal(new[] { "a" }, "a snapshot handed out is immutable");
    }

    [Fact]
    public void Keys_AreOrdinal_CaseMatters()
    {
        var index = new SetIndex<string>(StringComparer.Ordinal);
        index.Add("Team", "a", out _);

        index.ContainsKey("team").Should().BeFalse();
        index.Get("team").Should().BeEmpty();
    }

    [Fact]
    public async Task AddRemove_ManyThreadsOnSharedKeys_EveryThreadSeesItsOwnWritesAndNothingIsLeft()
    {
        var index = new SetIndex<string>(StringComparer.Ordinal);
        string[] keys = Enumerable.Range(0, 4).Select(i => "g" + i).ToArray();
        var failures = new List<string>();

        Task[] workers = Enumerable.Range(0, Tasks).Select(t => Task.Run(() =>
        {
            var random = new Random(1000 + t);
            string me = "u" + t;
            var mine = new HashSet<string>(StringComparer.Ordinal);
            for (int i = 0; i < OpsPerTask; i++)
            {
                string key = keys[random.Next(keys.Length)];
                if (random.Next(2) == 0)
                {
                    bool added = index.Add(key, me, out _);
                    Check(added == mine.Add(key), $"{me}: Add({key}) returned {added}");
                    Check(index.Contains(key, me), $"{me}: Contains({key}) false right after Add");
                    Check(index.Get(key).Contains(me), $"{me}: snapshot of {key} lacks a value added before it was taken");
                }
                else
                {
                    bool removed = index.Remove(key, me, out _);
                    Check(removed == mine.Remove(key), $"{me}: Remove({key}) returned {removed}");
                    Check(!index.Contains(key, me), $"{me}: Contains({key}) true right after Remove");
                    Check(!index.Get(key).Contains(me), $"{me}: snapshot of {key} holds a value removed before it was taken");
                }
            }

            foreach (string key in keys)
            {
                Check(index.Contains(key, me) == mine.Contains(key), $"{me}: final Contains({key}) disagrees");
            }

            foreach (string key in mine)
            {
                index.Remove(key, me, out _);
            }
        })).ToArray();

        await Task.WhenAll(workers).WaitAsync(TestTimeouts.Default * 6);

        failures.Should().BeEmpty();
        index.KeyCount.Should().Be(0);
        index.Keys.Should().BeEmpty();

        void Check(bool condition, string message)
        {
            if (!condition)
            {
                lock (failures)
                {
                    failures.Add(message);
                }
            }
        }
    }

    [Fact]
    public async Task Remove_LastValueWhileAnotherThreadReAdds_TheReAddSurvives()
    {
        var index = new SetIndex<string>(StringComparer.Ordinal);
        int lostAdds = 0;

        // 'a' keeps emptying the key while 'b' keeps re-creating it: an Add that lands on an entry being removed
        // must move to a fresh entry, never into the discarded one.
        Task remover = Task.Run(() =>
        {
            for (int i = 0; i < OpsPerTask * 2; i++)
            {
                index.Add("g", "a", out _);
                index.Remove("g", "a", out _);
            }
        });
        Task readder = Task.Run(() =>
        {
            for (int i = 0; i < OpsPerTask * 2; i++)
            {
                index.Add("g", "b", out _);
                if (!index.Contains("g", "b") || !index.Get("g").Contains("b"))
                {
                    Interlocked.Increment(ref lostAdds);
                }

                index.Remove("g", "b", out _);
            }

            index.Add("g", "b", out _);
        });

        await Task.WhenAll(remover, readder).WaitAsync(TestTimeouts.Default * 6);

        lostAdds.Should().Be(0);
        index.KeyCount.Should().Be(1);
        index.Get("g").Should().Equal("b");
    }

    [Fact]
    public async Task RemoveKey_WhileOthersAdd_EveryValueIsEitherReturnedOrStillThere()
    {
        for (int round = 0; round < 200; round++)
        {
            var index = new SetIndex<string>(StringComparer.Ordinal);
            using var start = new Barrier(Tasks + 1);

            // Dedicated threads (LongRunning): a barrier must not block thread-pool threads.
            Task[] adders = Enumerable.Range(0, Tasks).Select(t => Task.Factory.StartNew(
                () =>
                {
                    start.SignalAndWait(TestTimeouts.Default);
                    for (int i = 0; i < 50; i++)
                    {
                        index.Add("u", $"g{t}-{i}", out _);
                    }
                },
                CancellationToken.None,
                TaskCreationOptions.LongRunning,
                TaskScheduler.Default)).ToArray();
            Task<string[]> removal = Task.Factory.StartNew(
                () =>
                {
                    start.SignalAndWait(TestTimeouts.Default);
                    return index.RemoveKey("u");
                },
                CancellationToken.None,
                TaskCreationOptions.LongRunning,
                TaskScheduler.Default);

            await Task.WhenAll(adders).WaitAsync(TestTimeouts.Default);
            string[] removed = await removal.WaitAsync(TestTimeouts.Default);
            string[] remaining = index.Get("u");

            removed.Intersect(remaining).Should().BeEmpty("a value is removed or kept, not both");
            removed.Concat(remaining).Should().HaveCount(Tasks * 50, "no add is lost");
        }
    }
}
