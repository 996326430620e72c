using System;
using System.Collections.Generic;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using GroupRelay.Transports;

namespace GroupRelay.Benchmarks.Infrastructure;

/// <summary>
/// An <see cref="IRelaySocket"/> that only counts what it is given: the cheapest possible transport. While
/// <see cref="Record"/> is on (in a benchmark's set-up, never while it is measured), it also keeps a copy of every
/// frame, for checks of what a session was sent.
/// </summary>
internal sealed class CountingSocket : IRelaySocket
{
    private readonly DeliveryCounter _counter;

    public CountingSocket(DeliveryCounter counter) => _counter = counter;

    public long Frames { get; private set; }

    public long Bytes { get; private set; }

    /// <summary>Keep a copy of every frame in <see cref="Recorded"/> (allocates: for set-up and checks only).</summary>
    public bool Record { get; set; }

    /// <summary>The frames sent while <see cref="Record"/> was on, as text (a coalesced frame is one entry).</summary>
    public List<string> Recorded { get; } = new();

    public ValueTask SendAsync(ReadOnlyMemory<byte> utf8Text, CancellationToken cancellationToken = default)
    {
        Frames++;
        Bytes += utf8Text.Length;
        if (Record)
        {
            lock (Recorded)
            {
                Recorded.Add(Encoding.UTF8.GetString(utf8Text.Span));
            }
        }

        // A coalesced frame holds one JSON object per line.
        _counter.Delivered(utf8Text.Span.Count((byte)'\n') + 1);
        return default;
    }

    public ValueTask CloseAsync(int closeCode, string reason, CancellationToken cancellationToken = default) => default;

    public void Abort()
    {
    }
}
