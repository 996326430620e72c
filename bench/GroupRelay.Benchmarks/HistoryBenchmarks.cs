using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using System.Text.Json;
using System.Threading.Tasks;
using BenchmarkDotNet.Attributes;
using GroupRelay.Benchmarks.Infrastructure;
using GroupRelay.Transports;

namespace GroupRelay.Benchmarks;

/// <summary>
/// The server side of a <c>history</c> request (PROTOCOL.md section 3) on the in-process backplane: from the
/// request's frame reaching <see cref="RelaySession.ReceiveTextAsync"/> until its last frame is on the connection's
/// socket: parse, dispatch, membership check, the stream's position, the read of the retained frames, one enqueue per
/// replayed frame, the <c>history</c> result's serialisation, and the writer loop (which coalesces the queued frames
/// into as few socket writes as its 64 KiB frame bound allows).
/// </summary>
/// <remarks>
/// An operation is one <c>history</c> request of one connection, alone online in its group, which holds
/// <see cref="Retained"/> retained messages (seq 1 to 100, frames of 140 to 142 bytes, sent in the set-up):
/// <see cref="ReplayHundred"/> asks after seq 0 in the current epoch (all 100 replayed, <c>complete:true</c>);
/// <see cref="NothingToReplay"/> asks after the latest seq (only the result). The sockets are in-memory
/// <see cref="CountingSocket"/>s that only count, so the figures are the relay's own work, without a network.
/// </remarks>
[MemoryDiagnoser]
public class HistoryBenchmarks
{
    /// <summary>Messages retained in the group, the default <c>HistoryMessagesPerGroup</c> and <c>limit</c>.</summary>
    public const int Retained = 100;

    private RelayFixture? _fixture;
    private RelaySession? _session;
    private byte[] _replayAll = Array.Empty<byte>();
    private byte[] _afterLatest = Array.Empty<byte>();

    /// <summary>
    /// Connects one member of group <c>g</c>, sends it <see cref="Retained"/> messages, and checks once, untimed, that
    /// both requests answer as specified.
    /// </summary>
    [GlobalSetup]
    public void Setup()
    {
        string[] groups = { "g" };

        // The default retention (100 messages per group), but an age bound no benchmark run reaches (the default is
        // 10 minutes), so the operations never start to find their messages expired.
        _fixture = new RelayFixture(_ => groups, options => options.HistoryMaxAge = TimeSpan.FromDays(1));
        _session = _fixture.ConnectAsync("m0", record: true).GetAwaiter().GetResult();
        CountingSocket socket = _fixture.SocketOf(_session);
        string epoch = JsonDocument.Parse(socket.Recorded[0]).RootElement.GetProperty("positions").GetProperty("g").GetProperty("epoch").GetString()!;

        byte[] send = Encoding.UTF8.GetBytes("{\"type\":\"send\",\"group\":\"g\",\"body\":{\"t\":638700000000000000,\"n\":42,\"x\":\"the quick brown fox jumps\"}}");
        for (int i = 0; i < Retained; i++)
        {
            _fixture.Counter.Arm(1);
            _session.ReceiveTextAsync(send).AsTask().GetAwaiter().GetResult();
            _fixture.Counter.WaitAsync().AsTask().GetAwaiter().GetResult();
        }

        // As a resuming client asks (PROTOCOL.md section 6): after its last seq, with the epoch it was given.
        _replayAll = Encoding.UTF8.GetBytes($"{{\"type\":\"history\",\"id\":\"h\",\"group\":\"g\",\"after\":0,\"epoch\":\"{epoch}\",\"limit\":{Retained}}}");
        _afterLatest = Encoding.UTF8.GetBytes($"{{\"type\":\"history\",\"id\":\"h\",\"group\":\"g\",\"after\":{Retained},\"epoch\":\"{epoch}\",\"limit\":{Retained}}}");

        socket.Recorded.Clear();
        ReplayHundred().AsTask().GetAwaiter().GetResult();
        Check(Lines(socket), Retained, epoch);
        socket.Recorded.Clear();
        NothingToReplay().AsTask().GetAwaiter().GetResult();
        Check(Lines(socket), 0, epoch);
        socket.Record = false;
        socket.Recorded.Clear();
    }

    /// <summary>Closes the connection.</summary>
    [GlobalCleanup]
    public void Cleanup() => _fixture?.Dispose();

    /// <summary><c>history</c> after seq 0: 100 retained frames replayed, then the result.</summary>
    [Benchmark]
    public async ValueTask ReplayHundred()
    {
        _fixture!.Counter.Arm(Retained + 1);
        await _session!.ReceiveTextAsync(_replayAll).ConfigureAwait(false);
        await _fixture.Counter.WaitAsync().ConfigureAwait(false);
    }

    /// <summary><c>history</c> after the latest seq: nothing to replay, only the result.</summary>
    [Benchmark]
    public async ValueTask NothingToReplay()
    {
        _fixture!.Counter.Arm(1);
        await _session!.ReceiveTextAsync(_afterLatest).ConfigureAwait(false);
        await _fixture.Counter.WaitAsync().ConfigureAwait(false);
    }

    private static List<string> Lines(CountingSocket socket) => socket.Recorded.SelectMany(frame => frame.Split('\n')).ToList();

    // Replayed: seq 101 - replayed to 100 in order, then {"type":"history",...,"seq":100,"complete":true}.
    private static void Check(List<string> lines, int replayed, string epoch)
    {
        long[] seqs = lines.Take(lines.Count - 1).Select(l => JsonDocument.Parse(l).RootElement)
            .Select(m => m.GetProperty("type").GetString() == "message" ? m.GetProperty("seq").GetInt64() : -1).ToArray();
        JsonElement result = JsonDocument.Parse(lines[^1]).RootElement;
        bool ok = seqs.SequenceEqual(Enumerable.Range(Retained - replayed + 1, replayed).Select(i => (long)i))
            && result.GetProperty("type").GetString() == "history"
            && result.GetProperty("epoch").GetString() == epoch
            && result.GetProperty("seq").GetInt64() == Retained
            && result.GetProperty("complete").GetBoolean();
        if (!ok)
        {
            throw new InvalidOperationException($"history answered otherwise than specified ({replayed} expected):\n{string.Join('\n', lines)}");
        }
    }
}
