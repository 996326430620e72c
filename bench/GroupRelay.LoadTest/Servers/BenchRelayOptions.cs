namespace GroupRelay.LoadTest.Servers;

/// <summary>The GroupRelay options every GroupRelay server of the load test uses, whatever the transport.</summary>
internal static class BenchRelayOptions
{
    /// <summary>
    /// The options the benchmark changes, and why: the per-connection rate limit (100/s by default) would cap a
    /// sender long before the server saturates, and SignalR has no equivalent of join/leave events, so both are off.
    /// Everything else (queue bounds, frame size, coalescing, keep-alive) is the default.
    /// </summary>
    public static void Configure(GroupRelayOptions options)
    {
        options.RateLimitEnabled = false;
        options.SendJoinLeaveEvents = false;
    }
}
