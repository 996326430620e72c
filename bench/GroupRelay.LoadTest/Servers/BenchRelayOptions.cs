namespace GroupRelay.LoadTest.Servers;

/// <summary>The GroupRelay options every GroupRelay server of the load test uses, whatever the transport.</summary>
internal static class BenchRelayOptions
{
    /// <summary>
    /// The options the benchmark changes, and why: the per-connection rate limit (100/s by default) would cap a
    /// sender long before the server saturates, and SignalR has no equivalent of join/leave events, so both are off.
    /// The queue's frame bound is raised from 1,024 to 8,192 (the byte bound stays at its default, 1 MiB): the latency
    /// runs send every message of the group to every member, up to ~17,000 frames/s per connection, where 1,024 frames
    /// are 60 ms of that connection's traffic. Measured with the default at that rate, the peak queue of a healthy,
    /// reading connection was 442-850 frames on one node, and 946-1,227 on the far node of the Redis pair (2,403-2,803 in
    /// its first second), so a scheduling hiccup of the shared server core closed whole groups with 4001 and the run
    /// measured the slow-consumer policy instead of latency. SignalR and the raw servers have no bound at all.
    /// Everything else (frame size, coalescing, keep-alive, and retention for <c>history</c>: 100 messages per group)
    /// is the default; grouprelay-noretention switches retention off on top of these (<c>--history-messages 0</c>).
    /// </summary>
    public static void Configure(GroupRelayOptions options)
    {
        options.RateLimitEnabled = false;
        options.SendJoinLeaveEvents = false;
        options.MaxQueueFrames = 8192;

        // Every load client connects from 127.0.0.1: the per-address connection limit (default 1,000) would refuse the
        // 1,001st connection with 429.
        options.MaxConnectionsPerAddress = 1_000_000;
    }
}
