using System;

namespace GroupRelay;

/// <summary>A message accepted into a group's stream, as an <see cref="IMessageObserver"/> sees it.</summary>
/// <param name="GroupId">The group.</param>
/// <param name="From">The sender's user id (for a server publication, the <c>from</c> it was given).</param>
/// <param name="Seq">Its position in the group's stream (PROTOCOL.md section 3, "Streams and epochs").</param>
/// <param name="Body">The body as it was delivered: one JSON value, UTF-8, compact. The observer's own copy.</param>
/// <param name="ConnectionId">The sender's connection, or null for a message the server published.</param>
/// <param name="IdempotencyKey">The <c>send</c>'s <c>id</c>, or null.</param>
public sealed record AcceptedMessage(string GroupId, string From, long Seq, ReadOnlyMemory<byte> Body, string? ConnectionId, string? IdempotencyKey);
