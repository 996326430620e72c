using System;
using System.Buffers;
using System.Collections.Generic;
using System.Net.WebSockets;
using System.Text.Json;
using System.Threading;
using System.Threading.Channels;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;

namespace GroupRelay.Client.Internal;

/// <summary>
/// One WebSocket connection to the relay: one writer loop that owns every send on the socket (a socket never sees two
/// concurrent sends, and frames go out in the order they were queued), a keep-alive loop, and the reads, which the
/// client's connection loop makes one at a time.
/// </summary>
internal sealed class RelayConnection : IAsyncDisposable
{
    private const int MaxMessageBytes = 64 * 1024 * 1024;
    private static readonly byte[] PingFrame = "{\"type\":\"ping\"}"u8.ToArray();

    private readonly ClientWebSocket _socket;
    private readonly ILogger _logger;
    private readonly Channel<byte[]> _outbound = Channel.CreateUnbounded<byte[]>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _abort = new();
    private byte[] _buffer = new byte[16 * 1024];
    private long _lastReceived = Environment.TickCount64;
    private Task _writer = Task.CompletedTask;
    private Task _keepAlive = Task.CompletedTask;

    public RelayConnection(ClientWebSocket socket, Uri url, string urlName, ILogger logger)
    {
        _socket = socket;
        Url = url;
        UrlName = urlName;
        _logger = logger;
    }

    /// <summary>The URL this connection went to (with no token in it).</summary>
    public Uri Url { get; }

    /// <summary><see cref="Url"/> as logged.</summary>
    public string UrlName { get; }

    /// <summary>The client's connection counter when the welcome was applied; 0 before.</summary>
    public long Generation { get; set; }

    /// <summary>Starts the writer and, with a positive interval, the keep-alive.</summary>
    public void Start(TimeSpan keepAliveInterval, TimeSpan serverTimeout)
    {
        _writer = Task.Run(WriteLoopAsync);
        if (keepAliveInterval > TimeSpan.Zero)
        {
            _keepAlive = Task.Run(() => KeepAliveAsync(keepAliveInterval, serverTimeout));
        }
    }

    /// <summary>Queues a frame for the writer; false when the connection is closing or gone.</summary>
    public bool Enqueue(byte[] frame) => _outbound.Writer.TryWrite(frame);

    /// <summary>Sends what is queued, then a close frame (1000); the server answers with its own close, which ends the reads.</summary>
    public void RequestClose() => _outbound.Writer.TryComplete();

    /// <summary>Ends the connection at once: pending reads and writes fail.</summary>
    public void Abort()
    {
        _outbound.Writer.TryComplete();
        try
        {
            _abort.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }

        _socket.Abort();
    }

    /// <summary>
    /// Reads the next WebSocket message: its JSON objects (a server frame may hold several, separated by line feeds,
    /// PROTOCOL.md section 1), or the close the server sent.
    /// </summary>
    public async Task<ReceivedMessage> ReceiveAsync(CancellationToken cancellationToken)
    {
        int count = 0;
        while (true)
        {
            if (count == _buffer.Length)
            {
                if (_buffer.Length >= MaxMessageBytes)
                {
                    throw new GroupRelayClientException($"A message from the server is larger than {MaxMessageBytes} bytes.");
                }

                Array.Resize(ref _buffer, _buffer.Length * 2);
            }

            ValueWebSocketReceiveResult result = await _socket.ReceiveAsync(_buffer.AsMemory(count), cancellationToken).ConfigureAwait(false);
            Volatile.Write(ref _lastReceived, Environment.TickCount64);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                return new ReceivedMessage(null, (int?)_socket.CloseStatus ?? 1005, _socket.CloseStatusDescription);
            }

            count += result.Count;
            if (!result.EndOfMessage)
            {
                continue;
            }

            if (result.MessageType != WebSocketMessageType.Text)
            {
                count = 0;
                continue;
            }

            return new ReceivedMessage(Parse(_buffer.AsSpan(0, count)), null, null);
        }
    }

    private List<ServerFrame> Parse(ReadOnlySpan<byte> message)
    {
        var frames = new List<ServerFrame>(1);
        while (!message.IsEmpty)
        {
            int end = message.IndexOf((byte)'\n');
            ReadOnlySpan<byte> one = end < 0 ? message : message[..end];
            message = end < 0 ? ReadOnlySpan<byte>.Empty : message[(end + 1)..];
            if (one.IsEmpty)
            {
                continue;
            }

            try
            {
                if (JsonSerializer.Deserialize(one, ClientJsonContext.Default.ServerFrame) is { } frame)
                {
                    frames.Add(frame);
                }
            }
            catch (JsonException ex)
            {
                ClientLog.BadFrame(_logger, ex);
            }
        }

        return frames;
    }

    private async Task WriteLoopAsync()
    {
        try
        {
            ChannelReader<byte[]> reader = _outbound.Reader;
            while (await reader.WaitToReadAsync(_abort.Token).ConfigureAwait(false))
            {
                while (reader.TryRead(out byte[]? frame))
                {
                    await _socket.SendAsync(frame, WebSocketMessageType.Text, endOfMessage: true, _abort.Token).ConfigureAwait(false);
                }
            }

            if (_socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
            {
                await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, string.Empty, _abort.Token).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException or InvalidOperationException)
        {
            // The socket failed or was aborted: the reads see it too and the client reconnects.
            Abort();
        }
    }

    private async Task KeepAliveAsync(TimeSpan interval, TimeSpan serverTimeout)
    {
        try
        {
            using var timer = new PeriodicTimer(interval);
            while (await timer.WaitForNextTickAsync(_abort.Token).ConfigureAwait(false))
            {
                if (Environment.TickCount64 - Volatile.Read(ref _lastReceived) > (long)serverTimeout.TotalMilliseconds)
                {
                    ClientLog.ServerTimedOut(_logger, serverTimeout);
                    Abort();
                    return;
                }

                Enqueue(PingFrame);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Answers a close the server started (so it need not wait for its close timeout), then releases the socket.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_socket.State == WebSocketState.CloseReceived)
        {
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(1));
                _outbound.Writer.TryComplete();
                await _writer.WaitAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or TimeoutException)
            {
            }
        }

        Abort();
        try
        {
            await Task.WhenAll(_writer, _keepAlive).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        _socket.Dispose();
        _abort.Dispose();
    }
}

/// <summary>One WebSocket message from the server: its frames, or the close code and reason.</summary>
internal readonly record struct ReceivedMessage(List<ServerFrame>? Frames, int? CloseStatus, string? CloseDescription);
