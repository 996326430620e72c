using System;

namespace GroupRelay;

/// <summary>One client <c>send</c> as an <see cref="IMessageFilter"/> sees it.</summary>
/// <remarks>
/// Valid only during the <see cref="IMessageFilter.FilterAsync"/> call: <see cref="Body"/> may point into the
/// connection's receive buffer, which holds the next frame afterwards. Copy what you keep.
/// </remarks>
public sealed class MessageFilterContext
{
    internal MessageFilterContext(string userId, string connectionId, string groupId, ReadOnlyMemory<byte> body, string? idempotencyKey)
    {
        UserId = userId;
        ConnectionId = connectionId;
        GroupId = groupId;
        Body = body;
        IdempotencyKey = idempotencyKey;
    }

    /// <summary>The sender's user id (from the host's authentication, PROTOCOL.md section 2).</summary>
    public string UserId { get; }

    /// <summary>The sender's connection (the id the relay gave it, as in its logs).</summary>
    public string ConnectionId { get; }

    /// <summary>The group the message is sent to; the sender is a member of it.</summary>
    public string GroupId { get; }

    /// <summary>
    /// The message body: one JSON value, UTF-8, valid (the parser checked it), possibly with whitespace the client sent;
    /// or the body an earlier filter put in its place.
    /// </summary>
    public ReadOnlyMemory<byte> Body { get; internal set; }

    /// <summary>The <c>send</c>'s <c>id</c> (its idempotency key, PROTOCOL.md section 3), or null when it had none.</summary>
    public string? IdempotencyKey { get; }
}
