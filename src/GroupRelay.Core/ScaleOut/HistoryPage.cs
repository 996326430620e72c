using System;
using System.Collections.Generic;

namespace GroupRelay.ScaleOut;

/// <summary>
/// The answer of <see cref="IRelayBackplane.ReadHistoryAsync"/> (PROTOCOL.md section 3, <c>history</c>).
/// </summary>
/// <param name="Frames">The retained <c>message</c> frames after the asked seq, oldest first, each exactly as it was first delivered (UTF-8 JSON).</param>
/// <param name="Position">The stream's current position (epoch and latest seq).</param>
/// <param name="Complete">
/// True when every message after the asked seq up to <paramref name="Position"/> is in <paramref name="Frames"/>; false
/// when the limit cut the list, when some are no longer retained, or when the asked epoch is not the current one (then
/// <paramref name="Frames"/> is empty).
/// </param>
/// <remarks>
/// A backplane that cannot read the stream now (its shared store is unreachable) sets <see cref="Unavailable"/>: the client
/// gets the error <c>unavailable</c> rather than a position it cannot vouch for (PROTOCOL.md section 4).
/// </remarks>
public sealed record HistoryPage(IReadOnlyList<ReadOnlyMemory<byte>> Frames, StreamPosition Position, bool Complete)
{
    /// <summary>
    /// True when the backplane could not read the stream (for example Redis is unreachable): nothing is replayed, the
    /// other members are meaningless, and the client gets the error <c>unavailable</c> and asks again later.
    /// </summary>
    public bool Unavailable { get; init; }
}
