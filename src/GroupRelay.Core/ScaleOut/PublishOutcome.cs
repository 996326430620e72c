namespace GroupRelay.ScaleOut;

/// <summary>
/// What <see cref="IRelayBackplane.PublishMessageAsync"/> did with a message (PROTOCOL.md section 3, <c>send</c> and
/// "Idempotent send").
/// </summary>
/// <param name="Seq">The message's seq; for a duplicate, the seq the first send got.</param>
/// <param name="Duplicate">
/// True when the sender's idempotency key was seen inside the window: nothing was delivered again, and
/// <paramref name="Seq"/> is the first outcome's.
/// </param>
/// <param name="ConflictingGroup">
/// Set when the idempotency key was used before for another group: nothing was published, and the client gets
/// <c>bad_request</c>. Null otherwise.
/// </param>
/// <remarks>
/// A backplane that cannot order the message now (its shared store is unreachable) sets <see cref="Unavailable"/>
/// instead of numbering it itself, so the numbering of a group never forks between nodes.
/// </remarks>
public readonly record struct PublishOutcome(long Seq, bool Duplicate = false, string? ConflictingGroup = null)
{
    /// <summary>
    /// True when the backplane could not order the message (for example Redis is unreachable): nothing was delivered,
    /// <see cref="Seq"/> is 0, and the client gets the error <c>unavailable</c> and retries with the same <c>id</c>
    /// (PROTOCOL.md section 4).
    /// </summary>
    public bool Unavailable { get; init; }

    /// <summary>
    /// Set with <see cref="Unavailable"/> when the backplane lost contact with its store while the message was on its
    /// way and could not learn, within a bounded time, whether it was ordered: it may have been delivered. The client
    /// still gets <c>unavailable</c>, with a message that says so; a retry with the same <c>id</c> is answered as a
    /// duplicate if it was delivered.
    /// </summary>
    public bool OutcomeUnknown { get; init; }
}
