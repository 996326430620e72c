namespace GroupRelay.Client;

/// <summary>The server's acknowledgement of a send (PROTOCOL.md section 3, <c>ack</c>). Immutable.</summary>
public sealed class RelayAck
{
    /// <summary>Creates an acknowledgement.</summary>
    /// <param name="group">The group the message was sent to.</param>
    /// <param name="seq">The sequence number the server gave the message.</param>
    /// <param name="duplicate">Whether this was a repeat of a send the server had already ordered.</param>
    public RelayAck(string group, long seq, bool duplicate)
    {
        System.ArgumentNullException.ThrowIfNull(group);
        Group = group;
        Seq = seq;
        Duplicate = duplicate;
    }

    /// <summary>The group the message was sent to.</summary>
    public string Group { get; }

    /// <summary>
    /// The sequence number of the message in the group's current epoch. The message reaches every member, the
    /// sender's own <see cref="GroupRelayClient.ReadMessagesAsync"/> included, with this <c>seq</c>.
    /// </summary>
    public long Seq { get; }

    /// <summary>
    /// True when the client sent this message again after a lost connection and the server had already ordered it
    /// (it answered with the first outcome and delivered nothing twice). Either way the message was delivered once.
    /// </summary>
    public bool Duplicate { get; }
}
