using System;
using System.Threading;
using System.Threading.Tasks;
using GroupRelay.Transports;

namespace GroupRelay.Benchmarks.Infrastructure;

/// <summary>An <see cref="IRelaySocket"/> that only counts what it is given: the cheapest possible transport.</summary>
internal sealed class CountingSocket : IRelaySocket
{
    private readonly DeliveryCounter _counter;

    public CountingSocket(DeliveryCounter counter) => _counter = counter;

    public long Frames { get; private set; }

    public long Bytes { get; private set; }

    public ValueTask SendAsync(ReadOnlyMemory<byte> utf8Text, CancellationToken cancellationToken = default)
    {
        Frames++;
        Bytes += utf8Text.Length;

        // A coalesced frame holds one JSON object per line.
        _counter.Delivered(utf8Text.Span.Count((byte)'\n') + 1);
        return default;
    }

    public ValueTask CloseAsync(int closeCode, string reason, CancellationToken cancellationToken = default) => default;

    public void Abort()
    {
    }
}
