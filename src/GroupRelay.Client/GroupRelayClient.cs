using System;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Threading;
using System.Threading.Channels;
using System.Threading.Tasks;
using GroupRelay.Client.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace GroupRelay.Client;

/// <summary>
/// A client of a GroupRelay server: one WebSocket connection that reconnects by itself, resumes every group through
/// <c>history</c> so that the application sees each message of its groups exactly once and in <c>seq</c> order, and
/// sends again what was not acknowledged without delivering it twice (PROTOCOL.md section 6).
/// </summary>
/// <remarks>
/// <para>
/// Every member is thread-safe. Messages come through <see cref="ReadMessagesAsync"/>; everything else (presence,
/// membership, stream and connection changes) through events. Event handlers run one at a time on the client's
/// connection loop, in the order the server sent what caused them, interleaved in that order with the messages
/// handed to <see cref="ReadMessagesAsync"/>'s buffer: keep them short, and do not wait in them for something the
/// connection loop must do first (a send's ack, a history answer). An exception thrown by a handler is logged and
/// otherwise ignored.
/// </para>
/// <para>
/// Lifetime: <see cref="StartAsync"/>, then any requests, then <see cref="StopAsync"/> or <see cref="DisposeAsync"/>.
/// After a stop, <see cref="StartAsync"/> connects again and resumes from the positions the client had.
/// </para>
/// </remarks>
/// <example>
/// <code>
/// var options = new GroupRelayClientOptions { AccessTokenProvider = async ct =&gt; await tokens.GetAsync(ct) };
/// options.Urls.Add(new Uri("wss://chat.example.com/relay"));
/// await using var client = new GroupRelayClient(options);
/// await client.StartAsync();
/// RelayAck ack = await client.SendAsync("team", JsonSerializer.SerializeToElement(new { text = "hi" }));
/// await foreach (RelayMessage message in client.ReadMessagesAsync(cancellationToken))
/// {
///     Console.WriteLine($"{message.Group}#{message.Seq} {message.From}: {message.Body}");
/// }
/// </code>
/// </example>
public sealed partial class GroupRelayClient : IAsyncDisposable
{
    private readonly GroupRelayClientOptions _options;
    private readonly ILogger _logger;
    private readonly IRelayReconnectPolicy _reconnectPolicy;
    private readonly object _gate = new();
    private readonly Channel<RelayMessage> _messages;
    private readonly SemaphoreSlim _sendSlots;
    private readonly SemaphoreSlim _lifecycle = new(1, 1);
    private readonly string _idPrefix;
    private readonly string[] _urlNames;
    private long _nextSendId;
    private long _nextRequestId;

    // Everything below is guarded by _gate.
    private readonly Dictionary<string, GroupStream> _streams = new(StringComparer.Ordinal);
    private readonly LinkedList<PendingSend> _sends = new();
    private readonly Dictionary<string, PendingSend> _sendsById = new(StringComparer.Ordinal);
    private readonly Dictionary<string, PendingRequest> _requests = new(StringComparer.Ordinal);
    private readonly HashSet<string> _watched = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (bool Online, string? Status)> _presence = new(StringComparer.Ordinal);
    private RelayClientState _state;
    private RelayConnection? _connection;
    private long _generation;
    private int _urlIndex;
    private bool _everConnected;
    private bool _disposed;
    private bool _stopRequested;
    private string? _status;
    private string? _user;
    private string? _connectionId;
    private IReadOnlyList<string> _groups = Array.Empty<string>();
    private Task? _loop;
    private CancellationTokenSource? _loopStop;

    /// <summary>Creates a client. It does not connect until <see cref="StartAsync"/>.</summary>
    /// <param name="options">The client's settings; validated and copied here.</param>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is null.</exception>
    /// <exception cref="ArgumentException">An option is out of range; the message names it (for example <c>GroupRelayClientOptions.Urls must hold at least one ws:// or wss:// URL.</c>).</exception>
    public GroupRelayClient(GroupRelayClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.ValidateAndCopy();
        _logger = _options.LoggerFactory?.CreateLogger<GroupRelayClient>() ?? NullLogger<GroupRelayClient>.Instance;
        _reconnectPolicy = _options.ReconnectPolicy ?? new DefaultReconnectPolicy(_options.ReconnectDelays, _options.ReconnectJitter);
        _messages = Channel.CreateBounded<RelayMessage>(new BoundedChannelOptions(_options.MessageBufferCapacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleWriter = true,
        });
        _sendSlots = new SemaphoreSlim(_options.MaxQueuedSends, _options.MaxQueuedSends);
        _urlNames = _options.Urls.Select(GroupRelayClientOptions.Redact).ToArray();

        // Send ids are idempotency keys per user (PROTOCOL.md section 3): a random prefix per client, so two clients
        // (tabs, devices, restarts) of one user never reuse each other's ids, then a counter.
        _idPrefix = Convert.ToBase64String(RandomNumberGenerator.GetBytes(9)).Replace('+', '-').Replace('/', '_') + "-";
        foreach (KeyValuePair<string, RelayStreamPosition> position in _options.InitialPositions)
        {
            _streams[position.Key] = new GroupStream(position.Key, position.Value.Epoch, position.Value.Seq);
        }
    }

    /// <summary>A watched user came online, went offline or changed its status (see <see cref="WatchAsync"/>).</summary>
    /// <remarks>Also raised after a reconnect for each watched user whose state changed while the client was away.</remarks>
    public event EventHandler<RelayPresenceEventArgs>? PresenceChanged;

    /// <summary>Another member of one of this user's groups came online (its first connection opened).</summary>
    public event EventHandler<RelayMemberEventArgs>? MemberJoined;

    /// <summary>Another member of one of this user's groups went offline (its last connection closed).</summary>
    public event EventHandler<RelayMemberEventArgs>? MemberLeft;

    /// <summary>
    /// This user was added to a group (the server's <c>added</c>, or a group a reconnect's <c>welcome</c> lists that
    /// the client did not know). Its messages after <see cref="RelayGroupEventArgs.Position"/> follow in
    /// <see cref="ReadMessagesAsync"/>.
    /// </summary>
    public event EventHandler<RelayGroupEventArgs>? GroupAdded;

    /// <summary>This user was removed from a group (the server's <c>removed</c>, or a group a reconnect's <c>welcome</c> no longer lists).</summary>
    public event EventHandler<RelayGroupEventArgs>? GroupRemoved;

    /// <summary>
    /// A group's stream restarted under a new epoch while the client was connected (the server's <c>reset</c>; with a
    /// backplane that lost its state). Messages of the new epoch follow from <c>seq</c> 1. If the client was still
    /// catching up on the old epoch, <see cref="StreamUnrecovered"/> is raised first.
    /// </summary>
    public event EventHandler<RelayStreamResetEventArgs>? StreamReset;

    /// <summary>
    /// Messages of a group could not be recovered after a drop: the group's epoch changed (the server restarted), or
    /// the messages are no longer retained. Says from which <c>seq</c>; the application reloads that past from its own
    /// data if it needs it. Delivery goes on at <see cref="RelayUnrecoveredEventArgs.ResumesAt"/>.
    /// </summary>
    public event EventHandler<RelayUnrecoveredEventArgs>? StreamUnrecovered;

    /// <summary>The connection state changed (<see cref="State"/>).</summary>
    public event EventHandler<RelayStateChangedEventArgs>? StateChanged;

    /// <summary>
    /// The server refused the client's identity (HTTP 401/403 on the upgrade, or close code 4003). Raised once per
    /// refusal; the client then stays in <see cref="RelayClientState.Unauthorized"/> and does not reconnect until the
    /// application calls <see cref="StartAsync"/> (which asks <see cref="GroupRelayClientOptions.AccessTokenProvider"/>
    /// for a fresh token). Queued sends are kept meanwhile.
    /// </summary>
    public event EventHandler<RelayUnauthorizedEventArgs>? Unauthorized;

    /// <summary>The connection state. Changes are announced by <see cref="StateChanged"/>.</summary>
    public RelayClientState State
    {
        get
        {
            lock (_gate)
            {
                return _state;
            }
        }
    }

    /// <summary>The user id the server gave this client in its last <c>welcome</c>, or null before the first.</summary>
    public string? User
    {
        get
        {
            lock (_gate)
            {
                return _user;
            }
        }
    }

    /// <summary>The server's id of the current (or last) connection, from its <c>welcome</c>; null before the first.</summary>
    public string? ConnectionId
    {
        get
        {
            lock (_gate)
            {
                return _connectionId;
            }
        }
    }

    /// <summary>The groups of this user, as the last <c>welcome</c> listed them and <c>added</c>/<c>removed</c> changed them since.</summary>
    public IReadOnlyList<string> Groups
    {
        get
        {
            lock (_gate)
            {
                return _groups;
            }
        }
    }

    /// <summary>The URL of the current connection (without its query), or null while not connected.</summary>
    public Uri? CurrentUrl
    {
        get
        {
            lock (_gate)
            {
                return _connection?.Url;
            }
        }
    }

    /// <summary>
    /// The position of each group the client follows: the epoch and the highest <c>seq</c> handed to the application
    /// (or announced unrecovered). An application that stores it can resume a later run from it with
    /// <see cref="GroupRelayClientOptions.InitialPositions"/>. A snapshot: later changes do not show in it.
    /// </summary>
    /// <returns>A new dictionary, group id to position.</returns>
    public IReadOnlyDictionary<string, RelayStreamPosition> GetPositions()
    {
        lock (_gate)
        {
            return _streams.Values.ToDictionary(s => s.Group, s => new RelayStreamPosition(s.Epoch, s.LastSeq), StringComparer.Ordinal);
        }
    }

    /// <summary>
    /// The messages of every group of this user, each exactly once, in <c>seq</c> order per group (groups interleave
    /// as the server sent them), across drops, reconnects and node changes (PROTOCOL.md section 6). The sender's own
    /// messages come too.
    /// </summary>
    /// <param name="cancellationToken">Ends the enumeration.</param>
    /// <returns>The messages, as they arrive; the enumeration ends when the client is disposed.</returns>
    /// <remarks>
    /// The client buffers up to <see cref="GroupRelayClientOptions.MessageBufferCapacity"/> messages. When the buffer is
    /// full it stops reading the connection (backpressure): acks, answers and events wait too, so do not wait for a
    /// send's ack inside the loop that reads this unless the buffer is large enough. A server whose queue for the
    /// connection overflows closes it (4001); the client reconnects and catches up without a gap. Meant for one reader
    /// at a time: two concurrent enumerations share the messages between them.
    /// </remarks>
    public async IAsyncEnumerable<RelayMessage> ReadMessagesAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ChannelReader<RelayMessage> reader = _messages.Reader;
        while (await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            while (reader.TryRead(out RelayMessage? message))
            {
                yield return message;
            }
        }
    }

    /// <summary>Stops the client (<see cref="StopAsync"/>) and ends <see cref="ReadMessagesAsync"/> (after what is buffered).</summary>
    /// <returns>A task that completes when the connection is closed.</returns>
    public async ValueTask DisposeAsync()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }
        }

        await StopAsync().ConfigureAwait(false);
        lock (_gate)
        {
            _disposed = true;
        }

        _messages.Writer.TryComplete();
    }

    /// <summary>For tests: the client's inner state in one line (state, queued sends, requests, each group's position and catch-up).</summary>
    internal string DescribeState()
    {
        lock (_gate)
        {
            return $"{_state} gen={_generation} conn={(_connection is null ? "none" : _connection.UrlName)} sends={_sends.Count} (written {_sends.Count(s => s.WrittenOn >= 0)}) requests=[{string.Join(",", _requests.Values.Select(r => r.Kind + ":" + r.Group))}] "
                + string.Join(" ", _streams.Values.Select(s => $"{s.Group}@{s.LastSeq}{(s.CatchUp is { } c ? $"(catchup {c.RequestId} target {c.Target} held {c.Held.Count}{(c.Held.Count > 0 ? " first " + c.Held.Keys.First() : "")}{(c.Discarding ? " discarding" : "")})" : "")}"));
        }
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    /// <summary>Raises an event outside the gate; a failing handler is logged.</summary>
    private void Raise<TEventArgs>(EventHandler<TEventArgs>? handler, TEventArgs args, string name)
    {
        if (handler is null)
        {
            return;
        }

        try
        {
            handler(this, args);
        }
#pragma warning disable CA1031 // An application's handler must not break the connection loop.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            ClientLog.HandlerFailed(_logger, name, ex);
        }
    }
}
