using System;
using System.Text;
using System.Threading.Tasks;
using BenchmarkDotNet.Attributes;
using GroupRelay.Benchmarks.Infrastructure;
using GroupRelay.Internal;
using GroupRelay.Transports;

namespace GroupRelay.Benchmarks;

/// <summary>The per-request cost before fan-out: parsing a <c>send</c> frame, and parsing plus dispatching it.</summary>
public class ParseDispatchBenchmarks
{
    private RelayFixture? _fixture;
    private RelaySession? _session;
    private RequestParser? _parser;
    private byte[] _frame = Array.Empty<byte>();
    private byte[] _noEchoFrame = Array.Empty<byte>();

    /// <summary>One connection, alone in its group.</summary>
    [GlobalSetup]
    public void Setup()
    {
        string[] groups = { "solo" };
        _fixture = new RelayFixture(_ => groups);
        _session = _fixture.ConnectAsync("alice").GetAwaiter().GetResult();
        _parser = new RequestParser(_fixture.Options);
        _frame = Encoding.UTF8.GetBytes("{\"type\":\"send\",\"id\":\"m1\",\"group\":\"solo\",\"body\":{\"t\":638700000000000000,\"n\":42,\"x\":\"the quick brown fox jumps\"}}");

        // echo:false and no id: the send is parsed, checked and sequenced, and nothing is queued.
        _noEchoFrame = Encoding.UTF8.GetBytes("{\"type\":\"send\",\"group\":\"solo\",\"echo\":false,\"body\":{\"t\":638700000000000000,\"n\":42,\"x\":\"the quick brown fox jumps\"}}");
    }

    /// <summary>Closes the connection.</summary>
    [GlobalCleanup]
    public void Cleanup() => _fixture?.Dispose();

    /// <summary>Parses a <c>send</c> frame into a request (UTF-8 validation, one reader pass, compactness check).</summary>
    [Benchmark]
    public bool ParseSend() => _parser!.Parse(_frame, out RelayRequest request).IsError || request.Group is null;

    /// <summary>The whole receive path of a <c>send</c> that delivers nothing: parse, dispatch, member check, seq, serialise.</summary>
    [Benchmark]
    public ValueTask ParseAndDispatchSend() => _session!.ReceiveTextAsync(_noEchoFrame);
}
