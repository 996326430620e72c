using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;
using FluentAssertions;
using GroupRelay.Internal;
using GroupRelay.Specification.Tests;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Xunit;
using Xunit.Abstractions;

namespace GroupRelay.Redis.Tests;

/// <summary>The measurements that need the process to themselves: they run after every other test, one at a time.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MeasurementsRunAlone
{
    public const string Name = "Measurements";
}

/// <summary>
/// Heap bytes per dead group per node (issue 12, item 1; the issue measured 560 B before). In a round, a user on each of
/// the two nodes joins <see cref="Groups"/> groups, sends one message to each, and disconnects; the heap of the process
/// (both nodes) is read with <see cref="GC.GetTotalMemory(bool)"/> once the groups are dead and once the sweep's grace
/// has passed. A round's traffic alone grows the heap a little (buffer pools, caches sized by the largest welcome),
/// groups or not, so the measure is a difference: rounds with new groups each time against rounds that revive the same
/// groups, after warm-up rounds. Slow (about 30 s); run it with
/// <c>dotnet test tests/GroupRelay.Redis.Tests -c Release --filter FullyQualifiedName~DeadGroupMemoryTests --logger "console;verbosity=detailed"</c>.
/// </summary>
[Collection(MeasurementsRunAlone.Name)]
[Trait("Category", "Slow")]
public sealed class DeadGroupMemoryTests(ITestOutputHelper output) : TwoRedisNodesTests
{
    private const int Groups = 2000;
    private const int WarmUpRounds = 3;
    private const int MeasuredRounds = 4;
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task DeadGroups_HoldNoHeapOnAnyNode_OnceSwept()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        for (int round = 0; round < MeasuredRounds; round++)
        {
            Membership.SetGroups("na" + round, Names("na" + round));
            Membership.SetGroups("nb" + round, Names("nb" + round));
        }

        Membership.SetGroups("sa", Names("sa"));
        Membership.SetGroups("sb", Names("sb"));
        await StartNodesAsync(o => o.RateLimitEnabled = false, clock: clock);

        for (int round = 0; round < WarmUpRounds; round++)
        {
            await RoundAsync(clock, "sa", "sb");
        }

        // The same groups again and again: what a round's traffic grows the heap by without any new dead group.
        var revived = new List<(long Dead, long Swept)>();
        for (int round = 0; round < MeasuredRounds; round++)
        {
            revived.Add(await RoundAsync(clock, "sa", "sb"));
        }

        // New groups each round: each round leaves 2 x Groups more dead groups behind.
        var fresh = new List<(long Dead, long Swept)>();
        for (int round = 0; round < MeasuredRounds; round++)
        {
            fresh.Add(await RoundAsync(clock, "na" + round, "nb" + round));
        }

        // Growth per round, per group of the round (Groups per node, two nodes).
        double revivedGrowth = PerGroup(revived[^1].Swept - revived[0].Swept) / (MeasuredRounds - 1);
        double freshGrowth = PerGroup(fresh[^1].Swept - revived[^1].Swept) / MeasuredRounds;
        double deadBeforeSweep = fresh.Select((r, i) => PerGroup(r.Dead - (i == 0 ? revived[^1].Swept : fresh[i - 1].Swept))).Average();
        output.WriteLine($"Heap per dead group per node ({Groups} groups on each of 2 nodes per round; {WarmUpRounds} warm-up rounds, then {MeasuredRounds} rounds reviving the same groups, then {MeasuredRounds} rounds of new groups):");
        output.WriteLine($"  dead, before the sweep: {deadBeforeSweep - revivedGrowth:F0} B (what stayed for good without the sweep; {deadBeforeSweep:F0} B with the round's growth)");
        output.WriteLine($"  after the sweep: {freshGrowth - revivedGrowth:F0} B ({freshGrowth:F0} B per round with new groups, {revivedGrowth:F0} B per round reviving the same ones)");
        output.WriteLine($"  GC.GetTotalMemory(true) after each swept round, same groups: {string.Join(", ", revived.Select(r => r.Swept.ToString("N0", System.Globalization.CultureInfo.InvariantCulture)))}");
        output.WriteLine($"  GC.GetTotalMemory(true) after each swept round, new groups:  {string.Join(", ", fresh.Select(r => r.Swept.ToString("N0", System.Globalization.CultureInfo.InvariantCulture)))}");

        Upkeep(A).GroupStateCounts.Should().Be((0, 0, 0));
        Upkeep(B).GroupStateCounts.Should().Be((0, 0, 0));
        (freshGrowth - revivedGrowth).Should().BeLessThan(64, "a dead group holds nothing once swept (what is left is the noise of the pools)");
        (deadBeforeSweep - revivedGrowth).Should().BeGreaterThan(200, "the measurement sees the state the sweep frees");
    }

    private static string[] Names(string prefix) => Enumerable.Range(0, Groups).Select(i => prefix + "-" + i).ToArray();

    private static double PerGroup(long bytes) => bytes / (2.0 * Groups);

    /// <summary>One round on both nodes at once; returns the heap once the groups are dead and once they are swept.</summary>
    private async Task<(long Dead, long Swept)> RoundAsync(FakeTimeProvider clock, string userA, string userB)
    {
        await Task.WhenAll(LiveAndDieAsync(A, userA), LiveAndDieAsync(B, userB));
        long dead = Heap();
        clock.Advance(GroupUpkeep.DropGrace + GroupUpkeep.SweepInterval);
        Upkeep(A).Sweep();
        Upkeep(B).Sweep();
        return (dead, Heap());
    }

    /// <summary>The user connects to the node (joining its groups), sends one message to each group, and disconnects.</summary>
    private async Task LiveAndDieAsync(RedisRelayNodeHost node, string user)
    {
        string[] groups = Names(user);
        RelayTestClient client = await RelayTestClient.ConnectAsync(node.UriFor(user), user).WaitAsync(Wait);
        for (int i = 0; i < groups.Length; i++)
        {
            await client.SendAsync(new Dictionary<string, object?> { ["type"] = "send", ["id"] = "m" + i, ["group"] = groups[i], ["body"] = i, ["echo"] = false });
        }

        (await client.CollectAsync("ack", groups.Length, Wait)).Should().HaveCount(groups.Length);
        await client.DisposeAsync();
        GroupSubscriptions subscriptions = node.Services.GetRequiredService<GroupSubscriptions>();
        DateTime deadline = DateTime.UtcNow + Wait;
        while (groups.Any(subscriptions.IsSubscribed))
        {
            DateTime.UtcNow.Should().BeBefore(deadline, "the node unsubscribes once the user left");
            await Task.Delay(20);
        }
    }

    private static GroupUpkeep Upkeep(RedisRelayNodeHost node) => node.Services.GetRequiredService<GroupUpkeep>();

    /// <summary>
    /// <see cref="GC.GetTotalMemory(bool)"/> after full collections. On this runtime its absolute value can be offset
    /// (even negative), but the same offset every time: only differences are used.
    /// </summary>
    private static long Heap()
    {
        for (int i = 0; i < 3; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }

        return GC.GetTotalMemory(forceFullCollection: true);
    }
}
