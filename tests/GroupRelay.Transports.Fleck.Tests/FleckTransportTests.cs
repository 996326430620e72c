using System;
using System.Collections.Generic;
using System.Linq;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using FluentAssertions;
using GroupRelay.Specification.Tests;
using GroupRelay.Transports;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Xunit;

namespace GroupRelay.Transports.Fleck.Tests;

/// <summary>
/// What only the Fleck transport has to get right: authentication after open, frame size, every way a connection can
/// die, shutdown. After each, the online list and the group index must be empty.
/// </summary>
public sealed partial class FleckTransportTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private readonly FleckRelayHarness _harness = new();
    private readonly List<RelayTestClient> _clients = new();
    private readonly List<RawWebSocket> _raw = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        // FLECK_TEST_LOGS=1 prints what the server logged, to diagnose a failure.
        if (Environment.GetEnvironmentVariable("FLECK_TEST_LOGS") == "1")
        {
            foreach (CapturingLoggerProvider.LogEntry e in _harness.Logs.Entries)
            {
                Console.WriteLine($"LOG {e.EventId} {e.Level} {e.Category}: {e.Text} {e.Exception?.GetType().Name} {e.Exception?.Message}");
            }
        }

        foreach (RelayTestClient client in _clients)
        {
            await client.DisposeAsync();
        }

        foreach (RawWebSocket raw in _raw)
        {
            await raw.DisposeAsync();
        }

        await _harness.DisposeAsync();
    }

    [Fact]
    public async Task Connect_WithoutValidToken_ClosedWith4003Unauthorized_BeforeAnyFrame()
    {
        await StartAsync();

        RelayTestClient anonymous = await ConnectAsync("!anonymous", waitForWelcome: false);
        RelayTestClient noToken = await Track(RelayTestClient.ConnectAsync(_harness.RelayUri, "none", waitForWelcome: false));

        foreach (RelayTestClient client in new[] { anonymous, noToken })
        {
            (await client.WaitForCloseAsync(Timeout)).Should().Be(RelayCloseCodes.Unauthorized);
            client.Socket.CloseStatusDescription.Should().Be("unauthorized");
            client.RawFrameCount.Should().Be(0, "a refused connection receives no frame before the close");
        }

        await AssertNothingLeftAsync();
    }

    [Fact]
    public async Task Connect_WithBearerHeader_Authenticates()
    {
        await StartAsync();

        RelayTestClient alice = await Track(RelayTestClient.ConnectAsync(_harness.RelayUri, "alice", configure: o => o.SetRequestHeader("Authorization", "Bearer alice")));

        alice.Welcome.GetProperty("user").GetString().Should().Be("alice");
    }

    [Fact]
    public async Task Authenticator_Throws_ClosedWith1011()
    {
        _harness.Authenticate = _ => throw new InvalidOperationException("token store down");
        await StartAsync();

        RelayTestClient alice = await ConnectAsync("alice", waitForWelcome: false);

        (await alice.WaitForCloseAsync(Timeout)).Should().Be(RelayCloseCodes.InternalError);
        alice.RawFrameCount.Should().Be(0);
        await AssertNothingLeftAsync();
    }

    [Fact]
    public async Task SubProtocol_SelectedWhenAsked_AndAClientAskingNoneIsAccepted()
    {
        await StartAsync();

        RelayTestClient asking = await Track(RelayTestClient.ConnectAsync(_harness.UriFor("alice"), "alice", configure: o => o.AddSubProtocol("grouprelay.v1")));
        RelayTestClient plain = await ConnectAsync("bob");

        asking.Socket.SubProtocol.Should().Be("grouprelay.v1");
        plain.Socket.SubProtocol.Should().BeNullOrEmpty();
        plain.Welcome.GetProperty("user").GetString().Should().Be("bob");
    }

    [Fact]
    public async Task Frame_OfExactlyMaxFrameBytes_IsHandled_AndOneByteMore_ClosesWith1009_OthersUnaffected()
    {
        Group("team", "alice", "bob");
        await StartAsync(o => o.MaxFrameBytes = 1024);
        RelayTestClient alice = await ConnectAsync("alice");
        RelayTestClient bob = await ConnectAsync("bob");

        await alice.SendTextAsync(PaddedPing("p1", 1024));
        JsonElement pong = await alice.ExpectAsync("pong");
        pong.GetProperty("id").GetString().Should().Be("p1");

        await alice.SendTextAsync(PaddedPing("p2", 1025));
        (await alice.WaitForCloseAsync(Timeout)).Should().Be(RelayCloseCodes.MessageTooBig);

        JsonElement bobPong = await bob.RequestAsync(new Dictionary<string, object?> { ["type"] = "ping" });
        bobPong.GetProperty("type").GetString().Should().Be("pong");
        await WaitUntilAsync(() => Presence.OnlineUserCount == 1, "alice is gone, bob stays");
        (await _harness.Relay.GetOnlineMembersAsync("team")).Should().Equal("bob");
    }

    [Fact]
    public async Task Frame_FarOverMaxFrameBytes_IsNotBufferedWhole_AndTheConnectionEnds()
    {
        await StartAsync(o => o.MaxFrameBytes = 1024);
        RelayTestClient alice = await ConnectAsync("alice");

        try
        {
            // 8 MiB in one frame: the server closes after the first KiB, so this send may fail half-way.
            await alice.SendTextAsync("{\"type\":\"ping\",\"pad\":\"" + new string('x', 8 * 1024 * 1024) + "\"}");
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or System.IO.IOException)
        {
        }

        // The close frame may be lost to the reset of a connection whose unread data the server dropped.
        int? code = await alice.WaitForCloseAsync(Timeout);
        (code is null or RelayCloseCodes.MessageTooBig).Should().BeTrue($"the connection ends with 1009 or a reset, not {code}");
        _harness.Logs.WithEventId(7).Should().ContainSingle("the core closed it for a frame over MaxFrameBytes");
        await AssertNothingLeftAsync();
    }

    [Fact]
    public async Task BinaryFrame_IsAnsweredWithBadRequest_AndTheConnectionStaysOpen()
    {
        await StartAsync();
        RelayTestClient alice = await ConnectAsync("alice");

        await alice.SendRawAsync(new byte[] { 1, 2, 3 }, WebSocketMessageType.Binary);

        JsonElement error = await alice.ExpectAsync("error");
        error.GetProperty("code").GetString().Should().Be("bad_request");
        (await alice.RequestAsync(new Dictionary<string, object?> { ["type"] = "ping" })).GetProperty("type").GetString().Should().Be("pong");
    }

    [Fact]
    public async Task Connection_ThatErrors_InvalidUtf8_ClosedWith1007_AndDisposedOnce()
    {
        Group("team", "alice");
        await StartAsync();
        RelayTestClient alice = await ConnectAsync("alice");

        await alice.SendRawAsync(new byte[] { (byte)'{', 0xC3, 0x28, (byte)'}' }, WebSocketMessageType.Text);

        (await alice.WaitForCloseAsync(Timeout)).Should().Be((int)WebSocketCloseStatus.InvalidPayloadData);
        await AssertNothingLeftAsync();
        AssertDisposedOnce(alice.Welcome.GetProperty("connectionId").GetString()!);
    }

    [Fact]
    public async Task Connection_ThatErrors_ProtocolViolation_ClosedWith1002_AndDisposedOnce()
    {
        Group("team", "alice");
        await StartAsync();
        RawWebSocket raw = await ConnectRawAsync("alice");
        string connectionId = await ReadWelcomeAsync(raw);

        // Clients must mask their frames (RFC 6455 section 5.1): Fleck reports an error and closes.
        await raw.SendFrameAsync(0x1, Encoding.UTF8.GetBytes("{\"type\":\"ping\"}"), masked: false);

        (await raw.ReceiveCloseAsync()).Should().Be(1002);
        await AssertNothingLeftAsync();
        AssertDisposedOnce(connectionId);
    }

    [Fact]
    public async Task Connection_ClosedWithoutCloseFrame_IsCleanedUp()
    {
        Group("team", "alice", "bob");
        await StartAsync();
        RelayTestClient alice = await ConnectAsync("alice");
        RelayTestClient bob = await ConnectAsync("bob");

        alice.Socket.Abort();

        JsonElement left = await bob.ExpectAsync("left");
        left.GetProperty("user").GetString().Should().Be("alice");
        await WaitUntilAsync(() => Presence.OnlineUserCount == 1 && Handler.ConnectionCount == 1, "only bob is left");
        AssertDisposedOnce(alice.Welcome.GetProperty("connectionId").GetString()!);
    }

    [Fact]
    public async Task Connection_Reset_IsCleanedUp()
    {
        Group("team", "alice");
        await StartAsync();
        RawWebSocket raw = await ConnectRawAsync("alice");
        string connectionId = await ReadWelcomeAsync(raw);

        raw.Reset();

        await AssertNothingLeftAsync();
        AssertDisposedOnce(connectionId);
    }

    [Fact]
    public async Task Send_RacingClose_LeavesNothingBehind_AndOthersAreUnaffected()
    {
        Group("team", "alice", "bob");
        await StartAsync(o => o.RateLimitEnabled = false);
        RelayTestClient bob = await ConnectAsync("bob");
        var aliceIds = new List<string>();

        for (int round = 0; round < 5; round++)
        {
            RelayTestClient alice = await ConnectAsync("alice");
            aliceIds.Add(alice.Welcome.GetProperty("connectionId").GetString()!);

            // bob's messages are being sent to alice while alice goes away, half of the rounds with a close frame.
            Task flood = Task.Run(async () =>
            {
                for (int i = 0; i < 100; i++)
                {
                    await bob.SendAsync(new Dictionary<string, object?> { ["type"] = "send", ["group"] = "team", ["body"] = new { i, round } });
                }
            });
            await alice.ExpectAsync("message");
            if (round % 2 == 0)
            {
                alice.Socket.Abort();
            }
            else
            {
                using var timeout = new CancellationTokenSource(Timeout);
                await alice.Socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", timeout.Token);
            }

            await flood.WaitAsync(Timeout);
            await WaitUntilAsync(() => Presence.OnlineUserCount == 1 && Handler.ConnectionCount == 1, $"round {round}: only bob is left");
        }

        JsonElement ack = await bob.RequestAsync(new Dictionary<string, object?> { ["type"] = "send", ["group"] = "team", ["body"] = "still here" });
        ack.GetProperty("type").GetString().Should().Be("ack");
        foreach (string id in aliceIds)
        {
            AssertDisposedOnce(id);
        }
    }

    [Fact]
    public async Task ClientClose_FramesAlreadyQueuedAreFlushed_ThenTheCloseIsAnsweredWithItsCode()
    {
        await StartAsync();
        RawWebSocket raw = await ConnectRawAsync("alice");
        await ReadWelcomeAsync(raw);

        for (int i = 0; i < 20; i++)
        {
            await raw.SendTextAsync($"{{\"type\":\"ping\",\"id\":\"p{i}\"}}");
        }

        await raw.SendFrameAsync(0x8, new byte[] { 0x0F, 0xA0 }); // 4000: an application code
        var pongs = new List<string>();
        int? closeCode = null;
        while (closeCode is null)
        {
            (byte Opcode, byte[] Payload)? frame;
            try
            {
                frame = await raw.ReceiveFrameAsync();
            }
            catch (System.IO.IOException ex)
            {
                throw new InvalidOperationException("The connection broke after the pongs " + string.Join(",", pongs) + ", before the close frame.", ex);
            }

            frame.Should().NotBeNull("the server answers the close before it ends the connection");
            if (frame!.Value.Opcode == 0x8)
            {
                closeCode = (frame.Value.Payload[0] << 8) | frame.Value.Payload[1];
                continue;
            }

            foreach (string line in Encoding.UTF8.GetString(frame.Value.Payload).Split('\n'))
            {
                pongs.Add(JsonDocument.Parse(line).RootElement.GetProperty("id").GetString()!);
            }
        }

        closeCode.Should().Be(4000);
        pongs.Should().Equal(Enumerable.Range(0, 20).Select(i => $"p{i}"));
        await AssertNothingLeftAsync();
    }

    [Fact]
    public async Task Stop_ClosesEveryClientWith1001_AndLeavesNothing()
    {
        Group("team", "alice", "bob");
        await StartAsync();
        RelayTestClient alice = await ConnectAsync("alice");
        RelayTestClient bob1 = await ConnectAsync("bob");
        RelayTestClient bob2 = await ConnectAsync("bob");

        await _harness.StopAsync();

        foreach (RelayTestClient client in new[] { alice, bob1, bob2 })
        {
            (await client.WaitForCloseAsync(Timeout)).Should().Be(RelayCloseCodes.GoingAway);
            client.Socket.CloseStatusDescription.Should().Be("server shutting down");
        }

        await AssertNothingLeftAsync();
        AssertDisposedOnce(alice.Welcome.GetProperty("connectionId").GetString()!);
    }

    [Fact]
    public async Task KeepAlive_SendsPingFrames()
    {
        await StartAsync(o => o.KeepAliveInterval = TimeSpan.FromMilliseconds(200));
        RawWebSocket raw = await ConnectRawAsync("alice");
        await ReadWelcomeAsync(raw);

        (byte Opcode, byte[] Payload)? frame = await raw.ReceiveFrameAsync(TimeSpan.FromSeconds(5));

        frame.Should().NotBeNull();
        frame!.Value.Opcode.Should().Be(0x9, "the next frame of an idle connection is a keep-alive ping");
    }

    [Fact]
    public async Task PlainServer_WithoutHost_ServesAndClosesClientsWith1001OnDispose()
    {
        var membership = new InMemoryMembershipSource();
        membership.SetGroups("alice", "team");
        FleckRelayServer server = FleckRelayServer.Create("ws://127.0.0.1:0", membership, o => o.Authenticate = FleckRelayHarness.TestAuthenticate);
        RelayTestClient alice;
        try
        {
            server.Start();
            alice = await Track(RelayTestClient.ConnectAsync(new Uri($"ws://127.0.0.1:{server.Port}/?access_token=alice"), "alice"));
            alice.Welcome.GetProperty("groups").EnumerateArray().Select(g => g.GetString()).Should().Equal("team");
            (await server.Relay.GetOnlineUsersAsync()).Should().Equal("alice");
        }
        finally
        {
            await server.DisposeAsync().AsTask().WaitAsync(Timeout);
        }

        (await alice.WaitForCloseAsync(Timeout)).Should().Be(RelayCloseCodes.GoingAway);
    }

    [Fact]
    public async Task Frames_ArrivingFasterThanHandled_BeyondTheBacklogBound_CloseWith4008()
    {
        var membership = new GatedMembershipSource();
        var logs = new CapturingLoggerProvider();
        using ILoggerFactory loggerFactory = LoggerFactory.Create(b => b.AddProvider(logs).SetMinimumLevel(Microsoft.Extensions.Logging.LogLevel.Debug));
        await using FleckRelayServer server = FleckRelayServer.Create("ws://127.0.0.1:0", membership, o => o.Authenticate = FleckRelayHarness.TestAuthenticate, loggerFactory: loggerFactory);
        server.Start();
        RelayTestClient alice = await Track(RelayTestClient.ConnectAsync(new Uri($"ws://127.0.0.1:{server.Port}/?access_token=alice"), "alice", waitForWelcome: false));

        // While the membership source holds the accept, 1.25 MiB of requests pile up behind it (the bound is 1 MiB).
        string request = PaddedPing("p", 32 * 1024);
        for (int i = 0; i < 40; i++)
        {
            await alice.SendTextAsync(request);
        }

        // A completed send is only in the client's socket buffer: open the gate once the server has seen the overflow.
        await WaitUntilAsync(() => logs.WithEventId(208).Any(), "the server saw the backlog overflow");
        membership.Open();

        (await alice.ExpectAsync("welcome")).GetProperty("user").GetString().Should().Be("alice");
        (await alice.WaitForCloseAsync(Timeout)).Should().Be(RelayCloseCodes.Flooding);
        alice.Socket.CloseStatusDescription.Should().Be("flooding");
    }

    [Fact]
    public async Task AddFleckServer_WithoutAuthenticator_FailsAtStartNamingTheOption()
    {
        _harness.ConfigureTransport = o => o.Authenticate = null;

        Func<Task> start = () => StartAsync();

        (await start.Should().ThrowAsync<Microsoft.Extensions.Options.OptionsValidationException>()).Which.Message.Should().Contain("Authenticate");
    }

    [Fact]
    public void FleckRelayServer_Create_RejectsAHostName()
    {
        Action create = () => FleckRelayServer.Create("ws://localhost:8181", new InMemoryMembershipSource(), o => o.Authenticate = _ => null);

        create.Should().Throw<ArgumentException>().WithMessage("*IP address*");
    }

    /// <summary>A membership source that answers only once <see cref="Open"/> was called.</summary>
    private sealed class GatedMembershipSource : IMembershipSource
    {
        private readonly TaskCompletionSource _open = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Open() => _open.TrySetResult();

        public async ValueTask<IReadOnlyCollection<string>> GetGroupsAsync(string userId, CancellationToken cancellationToken = default)
        {
            await _open.Task.WaitAsync(cancellationToken);
            return Array.Empty<string>();
        }

        public ValueTask<IReadOnlyCollection<string>> GetContactsAsync(string userId, CancellationToken cancellationToken = default)
            => new(Array.Empty<string>());
    }

    private InMemoryPresenceRegistry Presence => _harness.Services.GetRequiredService<InMemoryPresenceRegistry>();

    private InMemoryGroupDirectory Directory => _harness.Services.GetRequiredService<InMemoryGroupDirectory>();

    private RelayConnectionHandler Handler => _harness.Services.GetRequiredService<RelayConnectionHandler>();

    private Task StartAsync(Action<GroupRelayOptions>? configure = null) => _harness.StartAsync(configure ?? (_ => { }));

    private void Group(string group, params string[] users)
    {
        foreach (string user in users)
        {
            string[] current = _harness.Membership.GetGroupsAsync(user).AsTask().Result.ToArray();
            _harness.Membership.SetGroups(user, current.Append(group).ToArray());
        }
    }

    private Task<RelayTestClient> ConnectAsync(string user, bool waitForWelcome = true) => Track(_harness.ConnectAsync(user, waitForWelcome));

    private async Task<RelayTestClient> Track(Task<RelayTestClient> connecting)
    {
        RelayTestClient client = await connecting.WaitAsync(Timeout);
        _clients.Add(client);
        return client;
    }

    private async Task<RawWebSocket> ConnectRawAsync(string user)
    {
        RawWebSocket raw = await RawWebSocket.ConnectAsync(_harness.RelayUri, user).WaitAsync(Timeout);
        _raw.Add(raw);
        return raw;
    }

    private static async Task<string> ReadWelcomeAsync(RawWebSocket raw)
    {
        // A keep-alive ping may come first when the connection's registration is slow (a ping is no protocol frame;
        // welcome is the first text frame): answer it as any client does.
        (byte Opcode, byte[] Payload)? frame = await raw.ReceiveFrameAsync();
        while (frame is { Opcode: 0x9 } ping)
        {
            await raw.SendFrameAsync(0xA, ping.Payload);
            frame = await raw.ReceiveFrameAsync();
        }

        frame.Should().NotBeNull();
        frame!.Value.Opcode.Should().Be(0x1);
        JsonElement welcome = JsonDocument.Parse(frame.Value.Payload).RootElement;
        welcome.GetProperty("type").GetString().Should().Be("welcome");
        return welcome.GetProperty("connectionId").GetString()!;
    }

    /// <summary>A ping request padded to exactly <paramref name="bytes"/> bytes of UTF-8.</summary>
    private static string PaddedPing(string id, int bytes)
    {
        string prefix = $"{{\"type\":\"ping\",\"id\":\"{id}\",\"pad\":\"";
        const string suffix = "\"}";
        return prefix + new string('x', bytes - prefix.Length - suffix.Length) + suffix;
    }

    private async Task AssertNothingLeftAsync()
        => await WaitUntilAsync(() => Presence.OnlineUserCount == 0 && Directory.GroupCount == 0 && Handler.ConnectionCount == 0, "the online list and the group index are empty");

    /// <summary>Cleanup is asynchronous: poll until <paramref name="condition"/> holds, failing at the deadline.</summary>
    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        DateTime deadline = DateTime.UtcNow + Timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("Not within the timeout: " + what);
            }

            await Task.Delay(20);
        }
    }

    /// <summary>The transport disposed the connection's session exactly once (event 207, logged right before the dispose).</summary>
    private void AssertDisposedOnce(string connectionId)
        => _harness.Logs.WithEventId(207).Count(e => Equals(e.Values.GetValueOrDefault("ConnectionId"), connectionId)).Should().Be(1, $"session {connectionId} is disposed exactly once");
}
