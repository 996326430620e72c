using System;
using System.Net;

namespace GroupRelay.Client;

/// <summary>
/// <see cref="GroupRelayClient.PresenceChanged"/>: a watched user came online, went offline or changed its status
/// (PROTOCOL.md section 3, <c>presence</c> events).
/// </summary>
public sealed class RelayPresenceEventArgs : EventArgs
{
    /// <summary>Creates the event's arguments.</summary>
    /// <param name="user">The watched user.</param>
    /// <param name="isOnline">Whether the user is online now.</param>
    /// <param name="status">The user's app-defined status, or null.</param>
    public RelayPresenceEventArgs(string user, bool isOnline, string? status)
    {
        ArgumentNullException.ThrowIfNull(user);
        User = user;
        IsOnline = isOnline;
        Status = status;
    }

    /// <summary>The watched user.</summary>
    public string User { get; }

    /// <summary>Whether the user is online (has at least one open connection) now.</summary>
    public bool IsOnline { get; }

    /// <summary>The user's app-defined status, or null.</summary>
    public string? Status { get; }
}

/// <summary>
/// <see cref="GroupRelayClient.MemberJoined"/> and <see cref="GroupRelayClient.MemberLeft"/>: another member of one of
/// this user's groups came online or went offline (PROTOCOL.md section 3, <c>joined</c> and <c>left</c>).
/// </summary>
public sealed class RelayMemberEventArgs : EventArgs
{
    /// <summary>Creates the event's arguments.</summary>
    /// <param name="group">The group.</param>
    /// <param name="user">The member.</param>
    public RelayMemberEventArgs(string group, string user)
    {
        ArgumentNullException.ThrowIfNull(group);
        ArgumentNullException.ThrowIfNull(user);
        Group = group;
        User = user;
    }

    /// <summary>The group.</summary>
    public string Group { get; }

    /// <summary>The member who came online or went offline.</summary>
    public string User { get; }
}

/// <summary>
/// <see cref="GroupRelayClient.GroupAdded"/> and <see cref="GroupRelayClient.GroupRemoved"/>: this user was added to or
/// removed from a group (PROTOCOL.md section 3, <c>added</c> and <c>removed</c>; also raised when a reconnect's
/// <c>welcome</c> lists a group more or one fewer than before).
/// </summary>
public sealed class RelayGroupEventArgs : EventArgs
{
    /// <summary>Creates the event's arguments.</summary>
    /// <param name="group">The group.</param>
    /// <param name="position">The group stream's position when the user was added; null for a removal.</param>
    public RelayGroupEventArgs(string group, RelayStreamPosition? position)
    {
        ArgumentNullException.ThrowIfNull(group);
        Group = group;
        Position = position;
    }

    /// <summary>The group.</summary>
    public string Group { get; }

    /// <summary>
    /// For an addition, the stream's position at that moment: messages after it reach
    /// <see cref="GroupRelayClient.ReadMessagesAsync"/>; earlier ones are there through <see cref="GroupRelayClient.HistoryAsync"/>.
    /// Null for a removal.
    /// </summary>
    public RelayStreamPosition? Position { get; }
}

/// <summary>
/// <see cref="GroupRelayClient.StreamReset"/>: the server announced that a group's stream restarted its numbering under a
/// new epoch while this client was connected (PROTOCOL.md section 3, "Stream reset").
/// </summary>
public sealed class RelayStreamResetEventArgs : EventArgs
{
    /// <summary>Creates the event's arguments.</summary>
    /// <param name="group">The group.</param>
    /// <param name="previousEpoch">The epoch the client knew before, or null when it knew none.</param>
    /// <param name="position">The new epoch and the <c>seq</c> it starts after (normally 0).</param>
    public RelayStreamResetEventArgs(string group, string? previousEpoch, RelayStreamPosition position)
    {
        ArgumentNullException.ThrowIfNull(group);
        ArgumentNullException.ThrowIfNull(position);
        Group = group;
        PreviousEpoch = previousEpoch;
        Position = position;
    }

    /// <summary>The group.</summary>
    public string Group { get; }

    /// <summary>The epoch the client knew before the reset, or null.</summary>
    public string? PreviousEpoch { get; }

    /// <summary>The new epoch and the <c>seq</c> after which its messages follow.</summary>
    public RelayStreamPosition Position { get; }
}

/// <summary>Why <see cref="GroupRelayClient.StreamUnrecovered"/> was raised.</summary>
public enum RelayUnrecoveredReason
{
    /// <summary>The group's stream has a new epoch (the server restarted, or its backplane lost the stream): the old epoch's missing messages are gone.</summary>
    EpochChanged,

    /// <summary>The missing messages are no longer retained (retention by count or age dropped them).</summary>
    NotRetained,
}

/// <summary>
/// <see cref="GroupRelayClient.StreamUnrecovered"/>: the client could not recover some messages of a group after a drop
/// (PROTOCOL.md section 6, item 3). The application reloads that past from its own data if it needs it.
/// </summary>
public sealed class RelayUnrecoveredEventArgs : EventArgs
{
    /// <summary>Creates the event's arguments.</summary>
    /// <param name="group">The group.</param>
    /// <param name="epoch">The epoch in which messages are missing.</param>
    /// <param name="firstMissingSeq">The first missing <c>seq</c> in <paramref name="epoch"/>.</param>
    /// <param name="reason">Why they could not be recovered.</param>
    /// <param name="resumesAt">Where delivery goes on: the epoch and the <c>seq</c> of the next message the application gets.</param>
    public RelayUnrecoveredEventArgs(string group, string epoch, long firstMissingSeq, RelayUnrecoveredReason reason, RelayStreamPosition resumesAt)
    {
        ArgumentNullException.ThrowIfNull(group);
        ArgumentNullException.ThrowIfNull(epoch);
        ArgumentNullException.ThrowIfNull(resumesAt);
        Group = group;
        Epoch = epoch;
        FirstMissingSeq = firstMissingSeq;
        Reason = reason;
        ResumesAt = resumesAt;
    }

    /// <summary>The group.</summary>
    public string Group { get; }

    /// <summary>The epoch in which messages are missing (for <see cref="RelayUnrecoveredReason.EpochChanged"/>, the old epoch).</summary>
    public string Epoch { get; }

    /// <summary>
    /// The first <c>seq</c> of <see cref="Epoch"/> the application did not get: every message of the group up to
    /// <c>FirstMissingSeq - 1</c> was handed over; from here on messages may be missing.
    /// </summary>
    public long FirstMissingSeq { get; }

    /// <summary>Why the messages could not be recovered.</summary>
    public RelayUnrecoveredReason Reason { get; }

    /// <summary>
    /// Where delivery goes on: the next message of the group that <see cref="GroupRelayClient.ReadMessagesAsync"/>
    /// hands over has this epoch and this <c>seq</c> (or a later one, if it too is missing and announced the same way).
    /// </summary>
    public RelayStreamPosition ResumesAt { get; }
}

/// <summary><see cref="GroupRelayClient.StateChanged"/>: the client's connection state changed.</summary>
public sealed class RelayStateChangedEventArgs : EventArgs
{
    /// <summary>Creates the event's arguments.</summary>
    /// <param name="previousState">The state before.</param>
    /// <param name="state">The state now.</param>
    /// <param name="exception">What caused the change, when it was a failure (a dropped connection, a refused identity); otherwise null.</param>
    public RelayStateChangedEventArgs(RelayClientState previousState, RelayClientState state, Exception? exception)
    {
        PreviousState = previousState;
        State = state;
        Exception = exception;
    }

    /// <summary>The state before the change.</summary>
    public RelayClientState PreviousState { get; }

    /// <summary>The state now.</summary>
    public RelayClientState State { get; }

    /// <summary>What caused the change when it was a failure; otherwise null.</summary>
    public Exception? Exception { get; }
}

/// <summary>
/// <see cref="GroupRelayClient.Unauthorized"/>: the server refused the client's identity, and the client stopped
/// reconnecting (PROTOCOL.md section 6, item 4).
/// </summary>
public sealed class RelayUnauthorizedEventArgs : EventArgs
{
    /// <summary>Creates the event's arguments.</summary>
    /// <param name="exception">The refusal.</param>
    public RelayUnauthorizedEventArgs(RelayUnauthorizedException exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        Exception = exception;
    }

    /// <summary>The refusal: the HTTP status of the refused upgrade or the close code (4003).</summary>
    public RelayUnauthorizedException Exception { get; }

    /// <summary>The HTTP status of the refused upgrade (401 or 403), or null when the server closed with 4003 instead.</summary>
    public HttpStatusCode? HttpStatusCode => Exception.HttpStatusCode;
}
