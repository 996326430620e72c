namespace GroupRelay;

/// <summary>The presence of one user as the relay knows it.</summary>
/// <param name="IsOnline">True while the user has at least one open connection.</param>
/// <param name="Status">The application-defined status the user last set (for example <c>away</c>), or null.</param>
public readonly record struct PresenceState(bool IsOnline, string? Status)
{
    /// <summary>The state of a user with no open connection.</summary>
    public static PresenceState Offline => default;
}
