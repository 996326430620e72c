using System;
using System.Threading;
using System.Threading.Tasks;
using FluentAssertions;
using GroupRelay.Internal;
using Xunit;

namespace GroupRelay.Redis.Tests;

/// <summary>Writes to Redis hold the gate shared, a resync holds it alone; nothing polls.</summary>
public sealed class SharedExclusiveGateTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan Short = TimeSpan.FromMilliseconds(100);

    [Fact]
    public async Task SharedHolders_RunConcurrently()
    {
        var gate = new SharedExclusiveGate();

        ValueTask<SharedExclusiveGate.SharedLease> first = gate.EnterSharedAsync();
        ValueTask<SharedExclusiveGate.SharedLease> second = gate.EnterSharedAsync();

        first.IsCompletedSuccessfully.Should().BeTrue();
        second.IsCompletedSuccessfully.Should().BeTrue();
        gate.SharedHolders.Should().Be(2);
        (await first.AsTask().WaitAsync(Timeout)).Dispose();
        (await second.AsTask().WaitAsync(Timeout)).Dispose();
        gate.SharedHolders.Should().Be(0);
    }

    [Fact]
    public async Task Exclusive_WaitsForSharedHolders_AndGetsTheGateWhenTheLastLeaves()
    {
        var gate = new SharedExclusiveGate();
        SharedExclusiveGate.SharedLease a = await gate.EnterSharedAsync().AsTask().WaitAsync(Timeout);
        SharedExclusiveGate.SharedLease b = await gate.EnterSharedAsync().AsTask().WaitAsync(Timeout);

        Task<SharedExclusiveGate.ExclusiveLease> exclusive = gate.EnterExclusiveAsync();
        await Task.Delay(Short);
        exclusive.IsCompleted.Should().BeFalse("two shared holders are inside");

        a.Dispose();
        await Task.Delay(Short);
        exclusive.IsCompleted.Should().BeFalse("one shared holder is still inside");

        b.Dispose();
        (await exclusive.WaitAsync(Timeout)).Dispose();
    }

    [Fact]
    public async Task Exclusive_ExcludesNewSharedHolders_WhileWaitingAndWhileHeld()
    {
        var gate = new SharedExclusiveGate();
        SharedExclusiveGate.SharedLease inside = await gate.EnterSharedAsync().AsTask().WaitAsync(Timeout);
        Task<SharedExclusiveGate.ExclusiveLease> exclusive = gate.EnterExclusiveAsync();

        Task<SharedExclusiveGate.SharedLease> late = gate.EnterSharedAsync().AsTask();
        await Task.Delay(Short);
        late.IsCompleted.Should().BeFalse("a waiting exclusive holder keeps new shared holders out");

        inside.Dispose();
        SharedExclusiveGate.ExclusiveLease held = await exclusive.WaitAsync(Timeout);
        await Task.Delay(Short);
        late.IsCompleted.Should().BeFalse("the exclusive holder is inside");
        gate.SharedHolders.Should().Be(0);

        held.Dispose();
        (await late.WaitAsync(Timeout)).Dispose();
    }

    [Fact]
    public async Task ExclusiveHolders_QueueBehindEachOther()
    {
        var gate = new SharedExclusiveGate();
        SharedExclusiveGate.ExclusiveLease first = await gate.EnterExclusiveAsync().WaitAsync(Timeout);

        Task<SharedExclusiveGate.ExclusiveLease> second = gate.EnterExclusiveAsync();
        await Task.Delay(Short);
        second.IsCompleted.Should().BeFalse();

        first.Dispose();
        (await second.WaitAsync(Timeout)).Dispose();
    }

    [Fact]
    public async Task ACancelledExclusiveWait_LetsSharedHoldersIn()
    {
        var gate = new SharedExclusiveGate();
        SharedExclusiveGate.SharedLease inside = await gate.EnterSharedAsync().AsTask().WaitAsync(Timeout);
        using var cancel = new CancellationTokenSource();
        Task<SharedExclusiveGate.ExclusiveLease> exclusive = gate.EnterExclusiveAsync(cancel.Token);
        Task<SharedExclusiveGate.SharedLease> late = gate.EnterSharedAsync().AsTask();

        await cancel.CancelAsync();

        Func<Task> waiting = () => exclusive.WaitAsync(Timeout);
        await waiting.Should().ThrowAsync<OperationCanceledException>();
        (await late.WaitAsync(Timeout)).Dispose();
        inside.Dispose();
        (await gate.EnterExclusiveAsync().WaitAsync(Timeout)).Dispose();
    }

    [Fact]
    public async Task ThousandsOfRaces_NoLostWakeUp_AndNoSharedHolderInsideTheExclusiveOne()
    {
        var gate = new SharedExclusiveGate();
        int inside = 0;
        int violations = 0;

        async Task SharedAsync()
        {
            using (await gate.EnterSharedAsync().AsTask().WaitAsync(Timeout))
            {
                Interlocked.Increment(ref inside);
                await Task.Yield();
                Interlocked.Decrement(ref inside);
            }
        }

        async Task ExclusiveAsync()
        {
            using (await gate.EnterExclusiveAsync().WaitAsync(Timeout))
            {
                if (Volatile.Read(ref inside) != 0)
                {
                    Interlocked.Increment(ref violations);
                }

                await Task.Yield();
                if (Volatile.Read(ref inside) != 0)
                {
                    Interlocked.Increment(ref violations);
                }
            }
        }

        for (int round = 0; round < 3_000; round++)
        {
            using var start = new Barrier(4);
            Task[] racers =
            {
                Task.Run(() => { start.SignalAndWait(); return SharedAsync(); }),
                Task.Run(() => { start.SignalAndWait(); return SharedAsync(); }),
                Task.Run(() => { start.SignalAndWait(); return ExclusiveAsync(); }),
                Task.Run(() => { start.SignalAndWait(); return round % 2 == 0 ? SharedAsync() : ExclusiveAsync(); }),
            };

            // A lost wake-up would leave one of them waiting forever: the timeout turns that into a failure.
            await Task.WhenAll(racers).WaitAsync(Timeout);
        }

        violations.Should().Be(0);
        gate.SharedHolders.Should().Be(0);
    }
}
