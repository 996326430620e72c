using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;

namespace GroupRelay.Client.Tests.Infrastructure;

// Linked into GroupRelay.Client.Fleck.Tests too.
/// <summary>
/// A <see cref="GroupRelayClient"/> under test: reads its messages in the background and records every event, so a
/// test can wait for what it expects (every wait has a timeout) and then look at the whole record.
/// </summary>
public sealed class RecordingClient : IAsyncDisposable
{
    public static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    private readonly List<RelayMessage> _messages = new();
    private readonly List<EventArgs> _events = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _reading;

    public RecordingClient(GroupRelayClientOptions options)
    {
        Client = new GroupRelayClient(options);
        Client.PresenceChanged += (_, e) => Record(e);
        Client.MemberJoined += (_, e) => Record(e);
        Client.MemberLeft += (_, e) => Record(e);
        Client.GroupAdded += (_, e) => Record(e);
        Client.GroupRemoved += (_, e) => Record(e);
        Client.StreamReset += (_, e) => Record(e);
        Client.StreamUnrecovered += (_, e) => Record(e);
        Client.StateChanged += (_, e) => Record(e);
        Client.Unauthorized += (_, e) => Record(e);
        _reading = Task.Run(ReadAsync);
    }

    public GroupRelayClient Client { get; }

    /// <summary>Options for <paramref name="user"/> (the test hosts take the token as the user id), with quick reconnects.</summary>
    public static GroupRelayClientOptions OptionsFor(string user, params Uri[] urls)
    {
        var options = new GroupRelayClientOptions
        {
            AccessTokenProvider = _ => ValueTask.FromResult<string?>(user),
            HandshakeTimeout = TimeSpan.FromSeconds(5),
            ReconnectJitter = 0.2,
        };
        foreach (Uri url in urls)
        {
            options.Urls.Add(url);
        }

        options.ReconnectDelays.Clear();
        foreach (int ms in new[] { 0, 20, 50, 100, 200 })
        {
            options.ReconnectDelays.Add(TimeSpan.FromMilliseconds(ms));
        }

        return options;
    }

    public static async Task<RecordingClient> StartAsync(GroupRelayClientOptions options)
    {
        var client = new RecordingClient(options);
        await client.Client.StartAsync().WaitAsync(Wait);
        return client;
    }

    public static JsonElement Body(object value) => JsonSerializer.SerializeToElement(value);

    public IReadOnlyList<RelayMessage> Messages
    {
        get
        {
            lock (_messages)
            {
                return _messages.ToList();
            }
        }
    }

    public IReadOnlyList<T> Events<T>()
        where T : EventArgs
    {
        lock (_events)
        {
            return _events.OfType<T>().ToList();
        }
    }

    public IReadOnlyList<RelayMessage> MessagesOf(string group) => Messages.Where(m => m.Group == group).ToList();

    /// <summary>Waits until <paramref name="condition"/> holds over the messages and events recorded, or fails after <paramref name="timeout"/>.</summary>
    public async Task WaitUntilAsync(Func<RecordingClient, bool> condition, string because, TimeSpan? timeout = null)
    {
        DateTime deadline = DateTime.UtcNow + (timeout ?? Wait);
        while (!condition(this))
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Timed out waiting until {because}. Messages: {string.Join(", ", Messages.Select(m => m.ToString()))}; events: {string.Join(", ", AllEvents().Select(Describe))}");
            }

            await Task.Delay(10);
        }
    }

    public Task WaitForMessagesAsync(string group, int count, TimeSpan? timeout = null)
        => WaitUntilAsync(c => c.MessagesOf(group).Count >= count, $"{count} messages of {group} arrived", timeout);

    public Task WaitForStateAsync(RelayClientState state, TimeSpan? timeout = null)
        => WaitUntilAsync(c => c.Client.State == state, $"the state is {state}", timeout);

    private IReadOnlyList<EventArgs> AllEvents()
    {
        lock (_events)
        {
            return _events.ToList();
        }
    }

    private static string Describe(EventArgs e) => e switch
    {
        RelayStateChangedEventArgs s => $"state {s.PreviousState}->{s.State}",
        RelayUnrecoveredEventArgs u => $"unrecovered {u.Group} from {u.FirstMissingSeq} ({u.Reason})",
        RelayStreamResetEventArgs r => $"reset {r.Group} {r.Position}",
        RelayPresenceEventArgs p => $"presence {p.User} {p.IsOnline}",
        RelayMemberEventArgs m => $"member {m.Group} {m.User}",
        _ => e.GetType().Name,
    };

    private void Record(EventArgs e)
    {
        lock (_events)
        {
            _events.Add(e);
        }
    }

    private async Task ReadAsync()
    {
        try
        {
            await foreach (RelayMessage message in Client.ReadMessagesAsync(_stop.Token))
            {
                lock (_messages)
                {
                    _messages.Add(message);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await Client.DisposeAsync().AsTask().WaitAsync(timeout.Token);
        await _stop.CancelAsync();
        await _reading;
        _stop.Dispose();
    }
}
