using System;
using System.Threading;
using System.Threading.Channels;
using System.Threading.Tasks;

namespace GroupRelay.LoadTest;

/// <summary>
/// This process's standard input as lines, read on a dedicated thread.
/// </summary>
/// <remarks>
/// <c>Console.In.ReadLineAsync</c> is not asynchronous: <c>Console.In</c> is a synchronized reader whose async methods
/// run the blocking read on the calling thread. Awaited from async code, it held a thread-pool worker for as long as
/// the parent said nothing, which is the whole run. A process pinned to one core starts with one worker, so the
/// server under test stalled until the pool's starvation detection added another (about half a second each time);
/// the two-node run at a group of 10 lost node B's receivers to 4001 in most quick runs because of it. Every server
/// and client process of the harness reads its commands through this class instead.
/// </remarks>
internal static class StandardInput
{
    private static readonly Lazy<ChannelReader<string>> Lines = new(StartReader, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The next line, or null once standard input has closed.</summary>
    public static async ValueTask<string?> ReadLineAsync(CancellationToken cancellationToken)
    {
        ChannelReader<string> lines = Lines.Value;
        return await lines.WaitToReadAsync(cancellationToken).ConfigureAwait(false) && lines.TryRead(out string? line) ? line : null;
    }

    private static ChannelReader<string> StartReader()
    {
        // One reader only (the process's command loop), so single-reader and single-writer hold.
        Channel<string> channel = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        var thread = new Thread(() =>
        {
            try
            {
                while (Console.In.ReadLine() is string line)
                {
                    channel.Writer.TryWrite(line);
                }
            }
            finally
            {
                channel.Writer.TryComplete();
            }
        })
        {
            IsBackground = true,
            Name = "stdin reader",
        };
        thread.Start();
        return channel.Reader;
    }
}
