using System;

namespace GroupRelay.Client;

/// <summary>
/// Decides how long <see cref="GroupRelayClient"/> waits before each reconnect attempt, and when it gives up (the
/// counterpart of SignalR's <c>IRetryPolicy</c>). Set it as <see cref="GroupRelayClientOptions.ReconnectPolicy"/>.
/// </summary>
/// <remarks>
/// Called on the client's connection loop, one call at a time; an implementation need not be thread-safe unless it is
/// shared between clients. An exception thrown by it is logged and treated as "give up".
/// </remarks>
public interface IRelayReconnectPolicy
{
    /// <summary>The delay before the next reconnect attempt, or null to stop reconnecting.</summary>
    /// <param name="retryContext">How many attempts failed so far, for how long, and why.</param>
    /// <returns>
    /// The delay (<see cref="TimeSpan.Zero"/>: at once), or null to give up: the client goes to
    /// <see cref="RelayClientState.Disconnected"/> and fails its queued sends.
    /// </returns>
    TimeSpan? NextRetryDelay(RelayRetryContext retryContext);
}

/// <summary>What <see cref="IRelayReconnectPolicy.NextRetryDelay"/> is told about the reconnect so far. Immutable.</summary>
public sealed class RelayRetryContext
{
    /// <summary>Creates a context.</summary>
    /// <param name="previousRetryCount">How many reconnect attempts failed since the connection dropped (0 before the first).</param>
    /// <param name="elapsedTime">How long ago the connection dropped.</param>
    /// <param name="retryReason">Why the connection dropped, or why the last attempt failed; null when unknown.</param>
    public RelayRetryContext(long previousRetryCount, TimeSpan elapsedTime, Exception? retryReason)
    {
        PreviousRetryCount = previousRetryCount;
        ElapsedTime = elapsedTime;
        RetryReason = retryReason;
    }

    /// <summary>How many reconnect attempts failed since the connection dropped: 0 before the first attempt.</summary>
    public long PreviousRetryCount { get; }

    /// <summary>How long ago the connection dropped.</summary>
    public TimeSpan ElapsedTime { get; }

    /// <summary>Why the connection dropped (first call) or why the last attempt failed (later calls); null when unknown.</summary>
    public Exception? RetryReason { get; }
}
