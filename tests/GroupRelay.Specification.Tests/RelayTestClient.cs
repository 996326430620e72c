using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Threading;
using System.Threading.Channels;
using System.Threading.Tasks;

namespace GroupRelay.Specification.Tests;

/// <summary>
/// A real WebSocket client for the protocol tests: a background loop reads every frame, splits coalesced frames on
/// line feeds, and queues each JSON object; tests await the next object or the one that matches, always with a timeout.
/// </summary>
public sealed class RelayTestClient : IAsyncDisposable
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);

    private readonly Channel<JsonElement> _frames = Channel.CreateUnbounded<JsonElement>();
    private readonly TaskCompletionSource<WebSocketCloseStatus?> _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly List<JsonElement> _skipped = new();
    private Task _receiveLoop = Task.CompletedTask;
    private bool _autoRead;

    private RelayTestClient(ClientWebSocket socket, string user)
    {
        Socket = socket;
        User = user;
    }

    public ClientWebSocket Socket { get; }

    public string User { get; }

    /// <summary>The <c>welcome</c> frame, once <see cref="ConnectAsync"/> returned with waitForWelcome.</summary>
    public JsonElement Welcome { get; private set; }

    /// <summary>Completes with the close status the server sent (null when the connection broke without one).</summary>
    public Task<WebSocketCloseStatus?> Closed => _closed.Task;

    /// <summary>Raw text frames received (before splitting), for coalescing checks.</summary>
    public int RawFrameCount { get; private set; }

    /// <summary>Every raw text frame received: its size in bytes and how many JSON objects it held.</summary>
    public IReadOnlyCollection<(int Bytes, int Objects)> RawFrames => _rawFrames;

    private readonly ConcurrentQueue<(int Bytes, int Objects)> _rawFrames = new();

    public static async Task<RelayTestClient> ConnectAsync(Uri uri, string user, bool waitForWelcome = true, bool startReading = true, Action<ClientWebSocketOptions>? configure = null, CancellationToken cancellationToken = default)
    {
        var socket = new ClientWebSocket();
        configure?.Invoke(socket.Options);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(DefaultTimeout);
        await socket.ConnectAsync(uri, timeout.Token);
        var client = new RelayTestClient(socket, user);
        if (startReading)
        {
            client.StartReading();
        }

        if (waitForWelcome)
        {
            client.Welcome = await client.ReceiveAsync();
            if (client.Welcome.GetProperty("type").GetString() != "welcome")
            {
                throw new InvalidOperationException("First frame was not welcome: " + client.Welcome);
            }
        }

        return client;
    }

    /// <summary>Starts the background read loop (a client created with startReading: false reads nothing until then: a slow consumer).</summary>
    public void StartReading()
    {
        if (_autoRead)
        {
            return;
        }

        _autoRead = true;
        _receiveLoop = Task.Run(ReceiveLoopAsync);
    }

    public Task SendAsync(object request) => SendTextAsync(JsonSerializer.Serialize(request));

    public async Task SendTextAsync(string text)
    {
        await SendRawAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text);
    }

    public async Task SendRawAsync(byte[] payload, WebSocketMessageType type)
    {
        if (!await _sendLock.WaitAsync(DefaultTimeout))
        {
            throw new TimeoutException($"{User}: another send did not finish within {DefaultTimeout.TotalSeconds} s.");
        }

        try
        {
            using var timeout = new CancellationTokenSource(DefaultTimeout);
            await Socket.SendAsync(payload, type, endOfMessage: true, timeout.Token);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    /// <summary>The next JSON object from the server.</summary>
    public async Task<JsonElement> ReceiveAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? DefaultTimeout);
        try
        {
            return await _frames.Reader.ReadAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"{User}: no frame within {(timeout ?? DefaultTimeout).TotalSeconds} s.");
        }
        catch (ChannelClosedException)
        {
            throw new InvalidOperationException($"{User}: the connection closed ({Socket.CloseStatus}) before the expected frame.");
        }
    }

    /// <summary>The next object of the given <c>type</c> (and matching <paramref name="match"/>); others are kept aside in <see cref="Skipped"/>.</summary>
    public async Task<JsonElement> ExpectAsync(string type, Func<JsonElement, bool>? match = null, TimeSpan? timeout = null)
    {
        bool Matches(JsonElement f) => f.TryGetProperty("type", out JsonElement ft) && ft.GetString() == type && (match is null || match(f));
        int index = _skipped.FindIndex(f => Matches(f));
        if (index >= 0)
        {
            // A frame set aside earlier (for example an echo that came before the ack) still counts, in order.
            JsonElement found = _skipped[index];
            _skipped.RemoveAt(index);
            return found;
        }

        DateTime deadline = DateTime.UtcNow + (timeout ?? DefaultTimeout);
        while (true)
        {
            TimeSpan left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
            {
                throw new TimeoutException($"{User}: no '{type}' frame within the timeout. Set aside: {string.Join(" | ", _skipped)}");
            }

            JsonElement frame = await ReceiveAsync(left);
            if (Matches(frame))
            {
                return frame;
            }

            _skipped.Add(frame);
        }
    }

    /// <summary>Frames passed over while waiting for another; <see cref="ExpectAsync"/> looks here first.</summary>
    public IReadOnlyList<JsonElement> Skipped => _skipped;

    /// <summary>Asserts that no frame (optionally of a type) arrives within <paramref name="window"/>.</summary>
    public async Task<JsonElement?> NextWithinAsync(TimeSpan window, string? type = null)
    {
        DateTime deadline = DateTime.UtcNow + window;
        while (DateTime.UtcNow < deadline)
        {
            using var cts = new CancellationTokenSource(deadline - DateTime.UtcNow);
            try
            {
                JsonElement frame = await _frames.Reader.ReadAsync(cts.Token);
                if (type is null || frame.GetProperty("type").GetString() == type)
                {
                    return frame;
                }
            }
            catch (OperationCanceledException)
            {
                return null;
            }
            catch (ChannelClosedException)
            {
                return null;
            }
        }

        return null;
    }

    /// <summary>Sends a request with an id and returns the reply that repeats the id (ack, error or result).</summary>
    public async Task<JsonElement> RequestAsync(Dictionary<string, object?> request)
    {
        string id = request.TryGetValue("id", out object? given) && given is string s ? s : "r" + Guid.NewGuid().ToString("N")[..8];
        request["id"] = id;
        await SendAsync(request);
        DateTime deadline = DateTime.UtcNow + DefaultTimeout;
        while (true)
        {
            TimeSpan left = deadline - DateTime.UtcNow;
            JsonElement frame = await ReceiveAsync(left > TimeSpan.Zero ? left : TimeSpan.FromMilliseconds(1));
            if (frame.TryGetProperty("id", out JsonElement fid) && fid.ValueKind == JsonValueKind.String && fid.GetString() == id && !(frame.GetProperty("type").GetString() == "message"))
            {
                return frame;
            }

            _skipped.Add(frame);
        }
    }

    /// <summary>
    /// The next <paramref name="count"/> objects of the given type, in arrival order (set-aside ones first); others
    /// are set aside. Fails when they do not all arrive within the timeout.
    /// </summary>
    public async Task<List<JsonElement>> CollectAsync(string type, int count, TimeSpan? timeout = null)
    {
        var found = new List<JsonElement>(count);
        int index = 0;
        while (index < _skipped.Count && found.Count < count)
        {
            if (_skipped[index].TryGetProperty("type", out JsonElement t) && t.GetString() == type)
            {
                found.Add(_skipped[index]);
                _skipped.RemoveAt(index);
            }
            else
            {
                index++;
            }
        }

        DateTime deadline = DateTime.UtcNow + (timeout ?? DefaultTimeout);
        while (found.Count < count)
        {
            TimeSpan left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
            {
                throw new TimeoutException($"{User}: only {found.Count} of {count} '{type}' frames arrived within the timeout.");
            }

            JsonElement frame = await ReceiveAsync(left);
            if (frame.TryGetProperty("type", out JsonElement ft) && ft.GetString() == type)
            {
                found.Add(frame);
            }
            else
            {
                _skipped.Add(frame);
            }
        }

        return found;
    }

    /// <summary>
    /// A barrier: sends a <c>ping</c> with a fresh id and returns every object that arrived before its <c>pong</c>
    /// (including those set aside earlier), leaving nothing set aside. Frames of one connection are ordered, so
    /// whatever the server queued to this connection before it handled the ping is in the list.
    /// </summary>
    public async Task<List<JsonElement>> DrainAsync()
    {
        string id = "drain-" + Guid.NewGuid().ToString("N")[..8];
        var frames = new List<JsonElement>(_skipped);
        _skipped.Clear();
        await SendAsync(new Dictionary<string, object?> { ["type"] = "ping", ["id"] = id });
        DateTime deadline = DateTime.UtcNow + DefaultTimeout;
        while (true)
        {
            TimeSpan left = deadline - DateTime.UtcNow;
            JsonElement frame = await ReceiveAsync(left > TimeSpan.Zero ? left : TimeSpan.FromMilliseconds(1));
            if (frame.GetProperty("type").GetString() == "pong" && frame.TryGetProperty("id", out JsonElement fid) && fid.GetString() == id)
            {
                return frames;
            }

            frames.Add(frame);
        }
    }

    /// <summary>Takes an object that has already arrived, without waiting (after a close: whatever came before it).</summary>
    public bool TryReadNow(out JsonElement frame) => _frames.Reader.TryRead(out frame);

    /// <summary>Takes every set-aside object (and forgets them).</summary>
    public List<JsonElement> TakeSkipped()
    {
        var frames = _skipped.ToList();
        _skipped.Clear();
        return frames;
    }

    public async Task CloseAsync(WebSocketCloseStatus status = WebSocketCloseStatus.NormalClosure)
    {
        using var timeout = new CancellationTokenSource(DefaultTimeout);
        if (Socket.State == WebSocketState.Open)
        {
            await Socket.CloseOutputAsync(status, "bye", timeout.Token);
        }

        await Closed.WaitAsync(DefaultTimeout);
    }

    /// <summary>Waits for the server to close the connection and returns its close code.</summary>
    public async Task<int?> WaitForCloseAsync(TimeSpan? timeout = null)
    {
        StartReading();
        WebSocketCloseStatus? status = await Closed.WaitAsync(timeout ?? DefaultTimeout);
        return (int?)status;
    }

    private async Task ReceiveLoopAsync()
    {
        byte[] buffer = new byte[16 * 1024];
        var message = new List<byte>();
        try
        {
            while (true)
            {
                WebSocketReceiveResult result = await Socket.ReceiveAsync(buffer, CancellationToken.None);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    if (Socket.State == WebSocketState.CloseReceived)
                    {
                        using var timeout = new CancellationTokenSource(DefaultTimeout);
                        try
                        {
                            await Socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, timeout.Token);
                        }
                        catch (WebSocketException)
                        {
                        }
                    }

                    _closed.TrySetResult(result.CloseStatus);
                    break;
                }

                message.AddRange(new ArraySegment<byte>(buffer, 0, result.Count));
                if (!result.EndOfMessage)
                {
                    continue;
                }

                RawFrameCount++;
                string text = Encoding.UTF8.GetString(message.ToArray());
                string[] lines = text.Split('\n');
                _rawFrames.Enqueue((message.Count, lines.Length));
                message.Clear();
                foreach (string line in lines)
                {
                    using JsonDocument doc = JsonDocument.Parse(line);
                    _frames.Writer.TryWrite(doc.RootElement.Clone());
                }
            }
        }
        catch (Exception ex) when (ex is WebSocketException or ObjectDisposedException or OperationCanceledException)
        {
            _closed.TrySetResult(Socket.CloseStatus);
        }
        catch (JsonException ex)
        {
            // The server broke the wire format: fail every waiting test loudly instead of hanging.
            _closed.TrySetException(new InvalidOperationException($"{User}: the server sent a frame that is not JSON.", ex));
        }
        finally
        {
            _frames.Writer.TryComplete();
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (Socket.State == WebSocketState.Open)
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await Socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "done", timeout.Token);
                await Closed.WaitAsync(TimeSpan.FromSeconds(2));
            }
        }
        catch (Exception)
        {
            // Best effort: the test is over.
        }

        Socket.Abort();
        Socket.Dispose();
        await _receiveLoop.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
    }
}
