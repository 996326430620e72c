using System;
using System.Text.Json;

namespace GroupRelay.Client;

/// <summary>
/// One message of a group, as <see cref="GroupRelayClient.ReadMessagesAsync"/> and
/// <see cref="GroupRelayClient.HistoryAsync"/> hand it over (the server's <c>message</c> frame, PROTOCOL.md section 3).
/// Immutable and safe to share between threads.
/// </summary>
public sealed class RelayMessage
{
    /// <summary>Creates a message (for tests of application code; the client creates them from the wire).</summary>
    /// <param name="group">The group id.</param>
    /// <param name="from">The sender's user id, as the server stamped it.</param>
    /// <param name="epoch">The epoch of the group's stream the message belongs to.</param>
    /// <param name="seq">The message's sequence number within <paramref name="epoch"/> (1 or more).</param>
    /// <param name="timestamp">The server's clock when it ordered the message.</param>
    /// <param name="body">The body, the same JSON value the sender sent.</param>
    /// <exception cref="ArgumentNullException"><paramref name="group"/>, <paramref name="from"/> or <paramref name="epoch"/> is null.</exception>
    public RelayMessage(string group, string from, string epoch, long seq, DateTimeOffset timestamp, JsonElement body)
    {
        ArgumentNullException.ThrowIfNull(group);
        ArgumentNullException.ThrowIfNull(from);
        ArgumentNullException.ThrowIfNull(epoch);
        Group = group;
        From = from;
        Epoch = epoch;
        Seq = seq;
        Timestamp = timestamp;
        Body = body;
    }

    /// <summary>The group the message was sent to.</summary>
    public string Group { get; }

    /// <summary>The sender's user id, stamped by the server (a client cannot forge it).</summary>
    public string From { get; }

    /// <summary>
    /// The epoch of the group's stream. Together with <see cref="Seq"/> it names this message forever; an application
    /// that stores messages can use the pair as a key.
    /// </summary>
    public string Epoch { get; }

    /// <summary>The sequence number within <see cref="Epoch"/>: the group's messages come in increasing <c>seq</c>, each once.</summary>
    public long Seq { get; }

    /// <summary>When the server ordered the message (its clock, millisecond precision, UTC).</summary>
    public DateTimeOffset Timestamp { get; }

    /// <summary>
    /// The body: any JSON value, as the sender sent it. It does not depend on a <see cref="JsonDocument"/> that
    /// could be disposed; keep it as long as needed. Read it with <see cref="JsonElement"/>'s methods or
    /// <c>body.Deserialize(MyJsonContext.Default.MyType)</c>.
    /// </summary>
    public JsonElement Body { get; }

    /// <summary>A short description for logs and debuggers: group, seq and sender, not the body.</summary>
    /// <returns>For example <c>team#42 from alice</c>.</returns>
    public override string ToString() => Group + "#" + Seq.ToString(System.Globalization.CultureInfo.InvariantCulture) + " from " + From;
}
