using System;
using System.Diagnostics;
using System.Threading;
using System.Threading.Tasks;
using GroupRelay.Transports;

namespace GroupRelay.Transports.Fleck.Internal;

// Keep-alive: a ping every KeepAliveInterval, and a peer that has sent nothing for KeepAliveInterval + KeepAliveTimeout
// is dropped, as .NET does for the ASP.NET Core transport (WebSocketAcceptContext.KeepAliveTimeout).
internal sealed partial class FleckRelayConnection
{
    /// <summary>Why a connection ended when its peer did not answer in time (<see cref="FinishAsync"/> tells the session).</summary>
    private const string KeepAliveTimeoutReason = "keep-alive timeout";

    // Stopwatch timestamps: the last bytes read from the client (any frame or part of one, a pong included), the last
    // ping, and the first ping sent since those bytes (the one the peer owes an answer to). The last two are the timer's.
    private long _lastReceived;
    private long _lastPing;
    private long _unansweredPing;
    private TimeSpan _silentFor;

    /// <summary>
    /// How often the server's keep-alive timer beats: every <see cref="GroupRelayOptions.KeepAliveInterval"/> when only
    /// pings are sent; with a timeout four times per shorter of the two, so a dead peer is dropped at most a quarter of
    /// that late (with the defaults, 50 to 55 s after its last frame). Zero: no keep-alive at all.
    /// </summary>
    public static TimeSpan KeepAliveBeat(GroupRelayOptions options)
    {
        if (options.KeepAliveInterval <= TimeSpan.Zero)
        {
            return TimeSpan.Zero;
        }

        if (options.KeepAliveTimeout <= TimeSpan.Zero)
        {
            return options.KeepAliveInterval;
        }

        TimeSpan shorter = options.KeepAliveInterval < options.KeepAliveTimeout ? options.KeepAliveInterval : options.KeepAliveTimeout;
        return TimeSpan.FromTicks(Math.Max(shorter.Ticks / 4, TimeSpan.TicksPerMillisecond * 10));
    }

    /// <summary>
    /// One beat of the server's keep-alive timer (<paramref name="now"/> is <see cref="Stopwatch.GetTimestamp"/>): drops
    /// the peer if it has been silent for <see cref="GroupRelayOptions.KeepAliveInterval"/> +
    /// <see cref="GroupRelayOptions.KeepAliveTimeout"/> and left a ping unanswered for
    /// <see cref="GroupRelayOptions.KeepAliveTimeout"/>, else pings it when its interval is up.
    /// </summary>
    /// <remarks>Only the server's timer calls this, one beat at a time (a beat that overran is at worst a second ping).</remarks>
    public void KeepAlive(long now)
    {
        if (Volatile.Read(ref _phase) != Running || Volatile.Read(ref _endedFlag) != 0)
        {
            return;
        }

        GroupRelayOptions options = _server.Handler.Options;
        long lastReceived = Volatile.Read(ref _lastReceived);
        bool owesAnswer = _unansweredPing > lastReceived;

        // Dead: silent for KeepAliveInterval + KeepAliveTimeout, and a ping it owes an answer to is KeepAliveTimeout old.
        // Silence alone is not enough: a server whose thread pool stalled may not have pinged it in time.
        if (options.KeepAliveTimeout > TimeSpan.Zero
            && owesAnswer
            && Stopwatch.GetElapsedTime(_unansweredPing, now) >= options.KeepAliveTimeout
            && Stopwatch.GetElapsedTime(lastReceived, now) is var silent && silent >= options.KeepAliveInterval + options.KeepAliveTimeout)
        {
            KeepAliveTimedOut(silent);
            return;
        }

        // Half a beat early rather than one beat late: the timer's jitter must not skip every other ping.
        if (Stopwatch.GetElapsedTime(_lastPing, now) >= options.KeepAliveInterval - (KeepAliveBeat(options) / 2))
        {
            _lastPing = now;
            if (!owesAnswer)
            {
                _unansweredPing = now;
            }

            SendPing();
        }
    }

    /// <summary>Called when the connection opens: the keep-alive clocks start now.</summary>
    private void StartKeepAlive()
    {
        long now = Stopwatch.GetTimestamp();
        _lastPing = now;
        Volatile.Write(ref _lastReceived, now);
    }

    /// <summary>Bytes arrived from the client (on Fleck's I/O path): it is alive.</summary>
    private void Received() => Volatile.Write(ref _lastReceived, Stopwatch.GetTimestamp());

    /// <summary>
    /// The peer has not answered: its TCP connection is closed without a close frame (it reads nothing, and so on
    /// ASP.NET Core, where .NET aborts the socket: the client sees 1006). <see cref="FinishAsync"/> then logs why and
    /// reports the timeout to the session (<see cref="ReportKeepAliveTimeout"/>) before it takes the connection offline.
    /// </summary>
    private void KeepAliveTimedOut(TimeSpan silent)
    {
        _silentFor = silent;
        if (Ended(KeepAliveTimeoutReason))
        {
            CloseTcp();
        }
    }

    /// <summary>
    /// From <see cref="FinishAsync"/>, once, when the connection ended for its keep-alive: the transport's log line (event
    /// 212), then the session's report (the core's log event 20, the metric <c>grouprelay.keepalive.timeouts</c>, close
    /// code 1006), which must come before the session is disposed. No session: the peer died while being accepted.
    /// </summary>
    private void ReportKeepAliveTimeout(RelaySession? session)
    {
        GroupRelayOptions options = _server.Handler.Options;
        FleckTransportLog.KeepAliveTimedOut(_server.Logger, _connectionId, _silentFor, options.KeepAliveInterval, options.KeepAliveTimeout);
        session?.ReceiveKeepAliveTimeout();
    }

    /// <summary>Queues a keep-alive ping, next to the writer loop's sends (Fleck sends pongs the same way).</summary>
    private void SendPing()
    {
        if (!_socket.IsAvailable)
        {
            return;
        }

        try
        {
            // SocketWrapper.Send returns null instead of a task once the socket is closed (SocketWrapper.cs:170-171).
            _socket.SendPing(Array.Empty<byte>())?.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
        catch (Exception)
        {
            // Runs on a timer: a connection that closed in between reports its end through OnClose, not here.
        }
    }
}
