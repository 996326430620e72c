using System;
using System.Collections.Generic;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using GroupRelay.Transports;

namespace GroupRelay.Core.Tests.Infrastructure;

/// <summary>One accepted connection: the session the transport drives and the fake socket the core writes to.</summary>
internal sealed class TestConnection : IAsyncDisposable
{
    private int _nextSync;

    public TestConnection(string user, RelaySession session, FakeRelaySocket socket)
    {
        User = user;
        Session = session;
        Socket = socket;
    }

    public string User { get; }

    public RelaySession Session { get; }

    public FakeRelaySocket Socket { get; }

    public string ConnectionId => Session.Connection.ConnectionId;

    /// <summary>Hands one text frame to the session, as the transport's receive loop does.</summary>
    public Task SendAsync(string json) => Session.ReceiveTextAsync(Json.Utf8(json)).AsTask().WaitAsync(TestTimeouts.Default);

    /// <summary>Sends a request and waits for the reply frame that repeats its id.</summary>
    public async Task<JsonElement> RequestAsync(string json, string id)
    {
        await SendAsync(json);
        return await Socket.WaitForFrameAsync(f => Json.Id(f) == id && Json.Type(f) != "message", $"the reply to '{id}'");
    }

    /// <summary>
    /// A barrier: sends a ping and waits for its pong. The connection's queue is FIFO, so every frame queued to it
    /// before the ping has been sent once this returns.
    /// </summary>
    public async Task SyncAsync()
    {
        string id = "sync-" + Interlocked.Increment(ref _nextSync).ToString(System.Globalization.CultureInfo.InvariantCulture);
        await SendAsync($"{{\"type\":\"ping\",\"id\":\"{id}\"}}");
        await Socket.WaitForFrameAsync("pong", id);
    }

    public IReadOnlyList<JsonElement> Messages(string? group = null)
    {
        var messages = new List<JsonElement>();
        foreach (JsonElement frame in Socket.OfType("message"))
        {
            if (group is null || Json.Str(frame, "group") == group)
            {
                messages.Add(frame);
            }
        }

        return messages;
    }

    public ValueTask DisposeAsync() => new(Session.DisposeAsync().AsTask().WaitAsync(TestTimeouts.Default));
}
