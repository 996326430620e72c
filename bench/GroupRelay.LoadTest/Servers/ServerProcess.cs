using System;
using System.Diagnostics;
using System.Globalization;
using System.Runtime;
using System.Threading;
using System.Threading.Tasks;

namespace GroupRelay.LoadTest.Servers;

/// <summary>
/// The contract of a server process, whatever the system under test: it prints <c>LISTENING {port}</c> once it
/// accepts connections, answers the stdin command <c>stats</c> with <c>STATS {json}</c> (working set and GC heap
/// after a forced full collection, CPU time), and exits on <c>quit</c>, when stdin closes, or after a hard limit.
/// </summary>
internal static class ServerProcess
{
    /// <summary>No server outlives a run that forgot it.</summary>
    public static readonly TimeSpan HardLimit = TimeSpan.FromMinutes(30);

    public static async Task<int> RunAsync(Func<CancellationToken, Task<(int Port, Func<Task> Stop)>> start)
    {
        using var lifetime = new CancellationTokenSource(HardLimit);
        (int port, Func<Task> stop) = await start(lifetime.Token);
        Console.Out.WriteLine("LISTENING " + port.ToString(CultureInfo.InvariantCulture));
        Console.Out.Flush();
        try
        {
            while (!lifetime.IsCancellationRequested)
            {
                string? line = await StandardInput.ReadLineAsync(lifetime.Token);
                if (line is null || line == "quit")
                {
                    break;
                }

                if (line == "stats")
                {
                    Console.Out.WriteLine("STATS " + Stats());
                    Console.Out.Flush();
                }
            }
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine("server: hard time limit reached, exiting");
        }

        using var stopTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await stop().WaitAsync(stopTimeout.Token).ContinueWith(_ => { }, TaskScheduler.Default);
        return 0;
    }

    private static string Stats()
    {
        GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        using Process self = Process.GetCurrentProcess();
        self.Refresh();
        return string.Create(CultureInfo.InvariantCulture, $"{{\"workingSet\":{self.WorkingSet64},\"gcHeap\":{GC.GetTotalMemory(false)},\"cpuMs\":{self.TotalProcessorTime.TotalMilliseconds:0}}}");
    }
}
