namespace GroupRelay.Internal;

/// <summary>The fields of a message besides its body and seq, as the node delivers it (see <see cref="PendingPublish"/>).</summary>
/// <param name="From">The sender stamped into the frame.</param>
/// <param name="Timestamp">The <c>ts</c> in Unix milliseconds.</param>
/// <param name="Compact">Whether the body can be copied into the frame as is.</param>
/// <param name="Skip">The connection that must not receive it (the sender with <c>echo:false</c>), or null.</param>
/// <remarks>Thread-safety: immutable.</remarks>
internal readonly record struct OutgoingMessage(string From, long Timestamp, bool Compact, string? Skip);
