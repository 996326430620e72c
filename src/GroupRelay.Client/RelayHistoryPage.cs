using System;
using System.Collections.Generic;

namespace GroupRelay.Client;

/// <summary>The answer to <see cref="GroupRelayClient.HistoryAsync"/> (PROTOCOL.md section 3, <c>history</c>). Immutable.</summary>
public sealed class RelayHistoryPage
{
    /// <summary>Creates a page.</summary>
    /// <param name="group">The group.</param>
    /// <param name="messages">The retained messages after the asked <c>seq</c>, oldest first.</param>
    /// <param name="position">The stream's current position when the server answered.</param>
    /// <param name="complete">Whether every message after the asked <c>seq</c> up to <paramref name="position"/> is in <paramref name="messages"/>.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    public RelayHistoryPage(string group, IReadOnlyList<RelayMessage> messages, RelayStreamPosition position, bool complete)
    {
        ArgumentNullException.ThrowIfNull(group);
        ArgumentNullException.ThrowIfNull(messages);
        ArgumentNullException.ThrowIfNull(position);
        Group = group;
        Messages = messages;
        Position = position;
        Complete = complete;
    }

    /// <summary>The group.</summary>
    public string Group { get; }

    /// <summary>The retained messages with a <c>seq</c> above the one asked for, oldest first, at most the asked limit.</summary>
    public IReadOnlyList<RelayMessage> Messages { get; }

    /// <summary>The stream's current epoch and latest <c>seq</c> when the server answered.</summary>
    public RelayStreamPosition Position { get; }

    /// <summary>
    /// True when every message after the asked <c>seq</c> is in <see cref="Messages"/>. False when the limit cut the
    /// list (ask again after the last message's <c>seq</c>), when some are no longer retained, or when the asked epoch
    /// is not the current one (then <see cref="Messages"/> is empty and the application reloads that past from its own data).
    /// </summary>
    public bool Complete { get; }
}
