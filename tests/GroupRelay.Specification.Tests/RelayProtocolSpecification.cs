using System;
using System.Collections.Generic;
using System.Linq;
using System.Net.WebSockets;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using FluentAssertions;
using Xunit;

namespace GroupRelay.Specification.Tests;

/// <summary>
/// The wire protocol (PROTOCOL.md) as one abstract test suite. Each transport runs it through a small derived
/// class that creates its <see cref="RelayServerHarness"/>; the tests here are the same for every transport.
/// Partial: each file covers one section of the protocol (Framing, Identity, Routing, Presence, Membership,
/// Errors, Limits, Lifecycle); this one holds the plumbing.
/// </summary>
public abstract partial class RelayProtocolSpecification : IAsyncLifetime
{
    private readonly List<RelayTestClient> _clients = new();

    protected RelayServerHarness Server { get; private set; } = null!;

    /// <summary>Bounds every await on something that is not a <see cref="RelayTestClient"/> call (those time out themselves).</summary>
    protected static TimeSpan Timeout => RelayTestClient.DefaultTimeout;

    /// <summary>For the few tests that move thousands of frames: generous, because a loaded CI machine may give them little CPU.</summary>
    protected static TimeSpan LongTimeout => TimeSpan.FromSeconds(60);

    /// <summary>Creates the transport's server harness (not yet started).</summary>
    protected abstract RelayServerHarness CreateHarness();

    /// <summary>
    /// Whether the server under test retains group messages for <c>history</c> (PROTOCOL.md section 3). A harness whose
    /// backplane does not yet keep its streams answers <c>history</c> as with retention switched off, and the tests that
    /// need retained messages report themselves skipped there.
    /// </summary>
    protected virtual bool RetainsHistory => true;

    public Task InitializeAsync()
    {
        Server = CreateHarness();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await Task.WhenAll(_clients.Select(c => c.DisposeAsync().AsTask())).WaitAsync(Timeout);
        await Server.DisposeAsync().AsTask().WaitAsync(Timeout + Timeout);
    }

    /// <summary>Starts the server; tests that need other options pass <paramref name="configure"/>.</summary>
    protected async Task StartAsync(Action<GroupRelayOptions>? configure = null)
    {
        using var timeout = new CancellationTokenSource(Timeout);
        await Server.StartAsync(configure ?? (_ => { }), timeout.Token).WaitAsync(Timeout);
    }

    /// <summary>Connects a user and waits for its <c>welcome</c>; the client is disposed after the test.</summary>
    protected async Task<RelayTestClient> ConnectAsync(string user, bool waitForWelcome = true, bool startReading = true, Action<ClientWebSocketOptions>? configure = null)
    {
        RelayTestClient client = await Server.ConnectAsync(user, waitForWelcome, startReading, configure);
        _clients.Add(client);
        return client;
    }

    /// <summary>
    /// Connects a client that reads nothing yet (its first frame, once it reads, is <c>welcome</c>) and waits until the
    /// server has it online, so what is sent next is routed to it.
    /// </summary>
    protected async Task<RelayTestClient> ConnectNotReadingAsync(string user)
    {
        RelayTestClient client = await ConnectAsync(user, waitForWelcome: false, startReading: false);
        (await EventuallyAsync(async () => (await Server.Relay.GetPresenceAsync(user)).IsOnline)).Should().BeTrue($"{user} comes online");
        return client;
    }

    /// <summary>Sets the groups of users in the test membership source: ("team", "alice", "bob").</summary>
    protected void Group(string group, params string[] users)
    {
        foreach (string user in users)
        {
            string[] current = Server.Membership.GetGroupsAsync(user).AsTask().Result.ToArray();
            Server.Membership.SetGroups(user, current.Append(group).ToArray());
        }
    }

    protected static Dictionary<string, object?> Req(string type, params (string Key, object? Value)[] fields)
    {
        var request = new Dictionary<string, object?> { ["type"] = type };
        foreach ((string key, object? value) in fields)
        {
            request[key] = value;
        }

        return request;
    }

    protected static string Type(JsonElement frame) => frame.GetProperty("type").GetString()!;

    protected static string? Str(JsonElement frame, string property)
        => frame.TryGetProperty(property, out JsonElement value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    protected static List<string> Strings(JsonElement array) => array.EnumerateArray().Select(e => e.GetString()!).ToList();

    /// <summary>Sends to a group and returns the reply that repeats the id (an ack or an error).</summary>
    protected static Task<JsonElement> SendToGroupAsync(RelayTestClient client, string group, object? body, bool? echo = null)
    {
        Dictionary<string, object?> request = Req("send", ("group", group), ("body", body));
        if (echo is bool e)
        {
            request["echo"] = e;
        }

        return client.RequestAsync(request);
    }

    /// <summary>
    /// Everything that reaches <paramref name="client"/> up to a ping barrier plus the harness's quiet period:
    /// what a test asserts on when something must not arrive. Leaves nothing set aside.
    /// </summary>
    protected async Task<List<JsonElement>> SettleAsync(RelayTestClient client)
    {
        List<JsonElement> frames = await client.DrainAsync();
        JsonElement? late = await client.NextWithinAsync(Server.QuietPeriod);
        while (late is JsonElement frame)
        {
            frames.Add(frame);
            late = await client.NextWithinAsync(Server.QuietPeriod);
        }

        return frames;
    }

    /// <summary>Asserts that no object of <paramref name="type"/> (any, when null) reaches <paramref name="client"/>; see <see cref="SettleAsync"/>.</summary>
    protected async Task ExpectNothingAsync(RelayTestClient client, string? type = null, string because = "")
    {
        List<JsonElement> frames = await SettleAsync(client);
        frames.Where(f => type is null || Type(f) == type).Select(f => f.GetRawText()).Should().BeEmpty(because);
    }

    /// <summary>Asserts that <paramref name="seqs"/> strictly increase (so they are also unique), naming the first step that does not.</summary>
    protected static void ShouldStrictlyIncrease(IReadOnlyList<long> seqs, string who)
    {
        int bad = Enumerable.Range(1, Math.Max(0, seqs.Count - 1)).FirstOrDefault(i => seqs[i] <= seqs[i - 1]);
        bad.Should().Be(0, $"{who} must see strictly increasing seq, but at position {bad} {(bad > 0 ? seqs[bad] : 0)} follows {(bad > 0 ? seqs[bad - 1] : 0)}");
    }

    /// <summary>Polls a condition (server-side cleanup is asynchronous) every 20 ms until it holds or the deadline passes.</summary>
    protected static async Task<bool> EventuallyAsync(Func<Task<bool>> condition, TimeSpan? within = null)
    {
        DateTime deadline = DateTime.UtcNow + (within ?? Timeout);
        while (true)
        {
            if (await condition().WaitAsync(Timeout))
            {
                return true;
            }

            if (DateTime.UtcNow >= deadline)
            {
                return false;
            }

            await Task.Delay(20);
        }
    }
}
