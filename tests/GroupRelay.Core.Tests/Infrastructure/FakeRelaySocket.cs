using System;
using System.Collections.Generic;
using System.Linq;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using GroupRelay.Transports;

namespace GroupRelay.Core.Tests.Infrastructure;

/// <summary>
/// An <see cref="IRelaySocket"/> that records what the core sends: every send (a coalesced send is one entry),
/// every frame (a send split on '\n'), the close code and whether it was aborted. Sends and closes can be held
/// (a "slow" or "stuck" client) until <see cref="ReleaseSends"/>; a held call honours its cancellation token like a
/// real socket. Every wait is awaitable and bounded by <see cref="TestTimeouts.Default"/>.
/// </summary>
internal sealed class FakeRelaySocket : IRelaySocket
{
    private readonly object _gate = new();
    private readonly List<byte[]> _sends = new();
    private readonly List<string> _frames = new();
    private readonly List<string> _events = new();
    private TaskCompletionSource _changed = NewSignal();
    private TaskCompletionSource? _hold;
    private TaskCompletionSource? _holdClose;
    private int _sendsStarted;
    private int? _closeCode;
    private string? _closeReason;
    private bool _aborted;

    public string Name { get; }

    public FakeRelaySocket(string name = "socket") => Name = name;

    /// <summary>Payloads of the completed sends, in order.</summary>
    public IReadOnlyList<byte[]> Sends { get { lock (_gate) { return _sends.ToList(); } } }

    /// <summary>Every JSON object sent, in order (coalesced sends split on '\n').</summary>
    public IReadOnlyList<string> Frames { get { lock (_gate) { return _frames.ToList(); } } }

    /// <summary>"send", "close:CODE" and "abort" in the order they happened.</summary>
    public IReadOnlyList<string> Events { get { lock (_gate) { return _events.ToList(); } } }

    public IReadOnlyList<JsonElement> Parsed => Frames.Select(Json.Parse).ToList();

    public int? CloseCode { get { lock (_gate) { return _closeCode; } } }

    public string? CloseReason { get { lock (_gate) { return _closeReason; } } }

    public bool Aborted { get { lock (_gate) { return _aborted; } } }

    /// <summary>Number of SendAsync calls entered (held or not).</summary>
    public int SendsStarted { get { lock (_gate) { return _sendsStarted; } } }

    /// <summary>From now on every SendAsync waits until <see cref="ReleaseSends"/> (or its token is cancelled).</summary>
    public void HoldSends()
    {
        lock (_gate)
        {
            _hold ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
    }

    /// <summary>Lets held and later sends complete.</summary>
    public void ReleaseSends()
    {
        TaskCompletionSource? hold;
        lock (_gate)
        {
            hold = _hold;
            _hold = null;
        }

        hold?.TrySetResult();
    }

    /// <summary>From now on CloseAsync never completes unless its token is cancelled (a peer that never reads).</summary>
    public void HoldClose()
    {
        lock (_gate)
        {
            _holdClose ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
    }

    public async ValueTask SendAsync(ReadOnlyMemory<byte> utf8Text, CancellationToken cancellationToken = default)
    {
        // The payload is only valid until this call returns: copy it now.
        byte[] copy = utf8Text.ToArray();
        TaskCompletionSource? hold;
        lock (_gate)
        {
            ThrowIfAborted();
            hold = _hold;
            _sendsStarted++;
            Pulse();
        }

        if (hold is not null)
        {
            await hold.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            ThrowIfAborted();
            _sends.Add(copy);
            _frames.AddRange(Encoding.UTF8.GetString(copy).Split('\n'));
            _events.Add("send");
            Pulse();
        }
    }

    public async ValueTask CloseAsync(int closeCode, string reason, CancellationToken cancellationToken = default)
    {
        TaskCompletionSource? hold;
        lock (_gate)
        {
            ThrowIfAborted();
            hold = _holdClose;
        }

        if (hold is not null)
        {
            await hold.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        lock (_gate)
        {
            ThrowIfAborted();
            _closeCode ??= closeCode;
            _closeReason ??= reason;
            _events.Add("close:" + closeCode.ToString(System.Globalization.CultureInfo.InvariantCulture));
            Pulse();
        }
    }

    public void Abort()
    {
        TaskCompletionSource? hold;
        TaskCompletionSource? holdClose;
        lock (_gate)
        {
            _aborted = true;
            _events.Add("abort");
            hold = _hold;
            holdClose = _holdClose;
            _hold = null;
            _holdClose = null;
            Pulse();
        }

        // Like a real socket: whatever was pending fails.
        hold?.TrySetException(new WebSocketException(WebSocketError.ConnectionClosedPrematurely));
        holdClose?.TrySetException(new WebSocketException(WebSocketError.ConnectionClosedPrematurely));
    }

    /// <summary>Waits until <paramref name="condition"/> holds (it is evaluated under the socket's lock after each change).</summary>
    public async Task WaitUntilAsync(Func<FakeRelaySocket, bool> condition, string what)
    {
        using var timeout = new CancellationTokenSource(TestTimeouts.Default);
        while (true)
        {
            Task changed;
            lock (_gate)
            {
                if (condition(this))
                {
                    return;
                }

                changed = _changed.Task;
            }

            try
            {
                await changed.WaitAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"{Name}: timed out waiting for {what}. Events: [{string.Join(", ", Events)}]. Frames: [{string.Join(" | ", Frames)}]");
            }
        }
    }

    /// <summary>Waits for the first frame that matches and returns it.</summary>
    public async Task<JsonElement> WaitForFrameAsync(Func<JsonElement, bool> match, string what)
    {
        JsonElement found = default;
        await WaitUntilAsync(
            s =>
            {
                foreach (string frame in s._frames)
                {
                    JsonElement parsed = Json.Parse(frame);
                    if (match(parsed))
                    {
                        found = parsed;
                        return true;
                    }
                }

                return false;
            },
            what).ConfigureAwait(false);
        return found;
    }

    public Task<JsonElement> WaitForFrameAsync(string type, string? id = null)
        => WaitForFrameAsync(f => Json.Type(f) == type && (id is null || Json.Id(f) == id), $"a '{type}' frame" + (id is null ? string.Empty : $" with id '{id}'"));

    public Task WaitForFrameCountAsync(int count) => WaitUntilAsync(s => s._frames.Count >= count, $"{count} frames");

    public async Task<int> WaitForCloseAsync()
    {
        await WaitUntilAsync(s => s._closeCode is not null, "a close").ConfigureAwait(false);
        return CloseCode!.Value;
    }

    public Task WaitForAbortAsync() => WaitUntilAsync(s => s._aborted, "an abort");

    public Task WaitForSendsStartedAsync(int count) => WaitUntilAsync(s => s._sendsStarted >= count, $"{count} sends to start");

    public IReadOnlyList<JsonElement> OfType(string type) => Parsed.Where(f => Json.Type(f) == type).ToList();

    private void ThrowIfAborted()
    {
        if (_aborted)
        {
            throw new WebSocketException(WebSocketError.InvalidState, "the socket was aborted");
        }
    }

    private void Pulse()
    {
        TaskCompletionSource old = _changed;
        _changed = NewSignal();
        old.TrySetResult();
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
