using System;

namespace GroupRelay.Client;

/// <summary>
/// A position in a group's stream: its <see cref="Epoch"/> and a <see cref="Seq"/> within it (PROTOCOL.md section 3,
/// "Streams and epochs"). Immutable.
/// </summary>
public sealed class RelayStreamPosition : IEquatable<RelayStreamPosition>
{
    /// <summary>Creates a position.</summary>
    /// <param name="epoch">The stream's epoch: an opaque string chosen by the server.</param>
    /// <param name="seq">A sequence number within the epoch (0 before the first message).</param>
    /// <exception cref="ArgumentNullException"><paramref name="epoch"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="seq"/> is negative.</exception>
    public RelayStreamPosition(string epoch, long seq)
    {
        ArgumentNullException.ThrowIfNull(epoch);
        ArgumentOutOfRangeException.ThrowIfNegative(seq);
        Epoch = epoch;
        Seq = seq;
    }

    /// <summary>The stream's epoch. A new epoch means the numbering restarted (PROTOCOL.md section 3).</summary>
    public string Epoch { get; }

    /// <summary>The sequence number within <see cref="Epoch"/>: 1, 2, 3, ...; 0 means "before the first message".</summary>
    public long Seq { get; }

    /// <inheritdoc />
    public bool Equals(RelayStreamPosition? other)
        => other is not null && Seq == other.Seq && string.Equals(Epoch, other.Epoch, StringComparison.Ordinal);

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as RelayStreamPosition);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(StringComparer.Ordinal.GetHashCode(Epoch), Seq);

    /// <summary>The position as <c>epoch:seq</c>.</summary>
    /// <returns>For example <c>9F2A61C04B7E:42</c>.</returns>
    public override string ToString() => Epoch + ":" + Seq.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
