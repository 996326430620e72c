namespace GroupRelay.ScaleOut;

/// <summary>
/// A position in a group's stream (PROTOCOL.md section 3, "Streams and epochs"): the stream's <see cref="Epoch"/> and
/// the <see cref="Seq"/> of its latest message (0 when the epoch has none yet). Within one epoch a seq names one message
/// forever, on every node; the epoch changes whenever the numbering restarts.
/// </summary>
/// <param name="Epoch">A short opaque string (base64url, at most 32 characters), chosen by the stream owner.</param>
/// <param name="Seq">The seq of the latest message of the epoch, 0 when there is none.</param>
public readonly record struct StreamPosition(string Epoch, long Seq);
