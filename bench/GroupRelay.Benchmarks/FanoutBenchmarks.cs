using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using System.Threading.Tasks;
using BenchmarkDotNet.Attributes;
using GroupRelay.Benchmarks.Infrastructure;
using GroupRelay.Transports;

namespace GroupRelay.Benchmarks;

/// <summary>
/// One <c>send</c> to a group whose members are all online, from the sender's frame to the last member's socket:
/// parse, dispatch, membership check, sequence, one serialisation, queue to every connection, every writer loop.
/// </summary>
/// <remarks>An operation is one message; divide by <see cref="Members"/> for a delivery (the per-delivery columns do).</remarks>
public class FanoutBenchmarks
{
    private RelayFixture? _fixture;
    private RelaySession? _sender;
    private byte[] _frame = Array.Empty<byte>();

    /// <summary>Online members of the group, the sender included (it gets its echo).</summary>
    [Params(10, 100, 1000)]
    public int Members { get; set; }

    /// <summary>
    /// Messages retained per group for <c>history</c>: the default (100) or retention switched off (0). Both in one run,
    /// so the ratio of the two rows of a group size is what retention costs per message (issue 12 asks for at most 5 %).
    /// </summary>
    [Params(100, 0)]
    public int HistoryMessages { get; set; }

    /// <summary>Connects <see cref="Members"/> users, each with one connection, all in group <c>g</c>.</summary>
    [GlobalSetup]
    public void Setup()
    {
        string[] groups = { "g" };
        _fixture = new RelayFixture(_ => groups, options => options.HistoryMessagesPerGroup = HistoryMessages);
        for (int i = 0; i < Members; i++)
        {
            RelaySession session = _fixture.ConnectAsync("m" + i).GetAwaiter().GetResult();
            _sender ??= session;
        }

        _frame = Encoding.UTF8.GetBytes("{\"type\":\"send\",\"group\":\"g\",\"body\":{\"t\":638700000000000000,\"n\":42,\"x\":\"the quick brown fox jumps\"}}");
    }

    /// <summary>Closes every connection.</summary>
    [GlobalCleanup]
    public void Cleanup() => _fixture?.Dispose();

    /// <summary>Routes one message to the group and waits until every member's socket has it.</summary>
    [Benchmark]
    public async ValueTask SendToGroup()
    {
        _fixture!.Counter.Arm(Members);
        await _sender!.ReceiveTextAsync(_frame).ConfigureAwait(false);
        await _fixture.Counter.WaitAsync().ConfigureAwait(false);
    }
}
