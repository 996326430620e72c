using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using FluentAssertions;
using GroupRelay.Client.Tests.Infrastructure;
using GroupRelay.Transports.Fleck;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Xunit;

namespace GroupRelay.Client.Fleck.Tests;

/// <summary>
/// The .NET client against a real Fleck host on loopback (hosted with <c>AddFleckServer</c>), where a refused identity
/// is a close with 4003 right after the upgrade rather than an HTTP 401.
/// </summary>
public sealed class FleckClientTests : IAsyncLifetime
{
    private static readonly TimeSpan Wait = RecordingClient.Wait;
    private readonly InMemoryMembershipSource _membership = new();
    private readonly List<IAsyncDisposable> _owned = new();
    private IHost _host = null!;
    private ChaosProxy _proxy = null!;
    private int _authentications;

    private Uri RelayUri => new($"ws://127.0.0.1:{_host.Services.GetRequiredService<FleckRelayServer>().Port}/relay");

    public async Task InitializeAsync()
    {
        _membership.SetGroups("alice", "team");
        _membership.SetGroups("bob", "team");
        HostApplicationBuilder builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders();
        builder.Services.AddGroupRelay(o => o.RateLimitEnabled = false).AddMembershipSource(_membership).AddFleckServer("ws://127.0.0.1:0", o =>
        {
            o.Authenticate = info =>
            {
                Interlocked.Increment(ref _authentications);
                return FleckRelayAuthentication.GetAccessToken(info) is { } token && token != "!anonymous" ? token : null;
            };
        });
        _host = builder.Build();
        await _host.StartAsync().WaitAsync(Wait);
        _proxy = new ChaosProxy(() => RelayUri.Port);
    }

    public async Task DisposeAsync()
    {
        foreach (IAsyncDisposable owned in Enumerable.Reverse(_owned))
        {
            await owned.DisposeAsync();
        }

        await _proxy.DisposeAsync();
        await _host.StopAsync().WaitAsync(Wait);
        _host.Dispose();
    }

    private async Task<RecordingClient> ConnectAsync(string user, bool viaProxy = false, Action<GroupRelayClientOptions>? configure = null)
    {
        GroupRelayClientOptions options = RecordingClient.OptionsFor(user, viaProxy ? _proxy.UriFor(RelayUri) : RelayUri);
        configure?.Invoke(options);
        RecordingClient client = await RecordingClient.StartAsync(options);
        _owned.Add(client);
        return client;
    }

    [Fact]
    public async Task Send_IsAcknowledged_AndALostAckIsAnsweredAsDuplicate_DeliveredOnce()
    {
        RecordingClient alice = await ConnectAsync("alice", viaProxy: true);
        RecordingClient bob = await ConnectAsync("bob");
        (await alice.Client.SendAsync("team", RecordingClient.Body("first")).WaitAsync(Wait)).Seq.Should().Be(1);

        _proxy.HoldDownstream = true;
        Task<RelayAck> send = alice.Client.SendAsync("team", RecordingClient.Body("second"));
        await bob.WaitForMessagesAsync("team", 2);
        _proxy.CutAll();
        _proxy.HoldDownstream = false;

        RelayAck ack = await send.WaitAsync(Wait);
        ack.Should().BeEquivalentTo(new { Seq = 2L, Duplicate = true });
        await alice.WaitForMessagesAsync("team", 2);
        alice.MessagesOf("team").Select(m => m.Seq).Should().Equal(1L, 2L);
        bob.MessagesOf("team").Select(m => m.Seq).Should().Equal(1L, 2L);
    }

    [Fact]
    public async Task Reconnect_ResumesThroughHistory_WithNothingLostOrRepeated()
    {
        RecordingClient alice = await ConnectAsync("alice");
        RecordingClient bob = await ConnectAsync("bob", viaProxy: true, o => o.HistoryPageSize = 4);
        await alice.Client.SendAsync("team", RecordingClient.Body(0)).WaitAsync(Wait);
        await bob.WaitForMessagesAsync("team", 1);
        _proxy.Refusing = true;
        _proxy.CutAll();
        await bob.WaitUntilAsync(c => c.Client.State == RelayClientState.Reconnecting, "bob is reconnecting");
        for (int i = 1; i <= 25; i++)
        {
            await alice.Client.SendAsync("team", RecordingClient.Body(i)).WaitAsync(Wait);
        }

        _proxy.Refusing = false;
        await bob.WaitForMessagesAsync("team", 26);
        bob.MessagesOf("team").Select(m => m.Body.GetInt32()).Should().Equal(Enumerable.Range(0, 26));
        bob.MessagesOf("team").Select(m => m.Seq).Should().BeInAscendingOrder().And.OnlyHaveUniqueItems();
        bob.Events<RelayUnrecoveredEventArgs>().Should().BeEmpty();
    }

    [Fact]
    public async Task RefusedToken_ClosedWith4003_RaisesUnauthorizedOnce_AndNeverRetries()
    {
        var client = new RecordingClient(RecordingClient.OptionsFor("!anonymous", RelayUri));
        _owned.Add(client);
        Func<Task> start = () => client.Client.StartAsync().WaitAsync(Wait);
        (await start.Should().ThrowAsync<RelayUnauthorizedException>()).Which.CloseCode.Should().Be(4003);

        await Task.Delay(1500);
        client.Events<RelayUnauthorizedEventArgs>().Should().ContainSingle().Which.Exception.CloseCode.Should().Be(4003);
        client.Client.State.Should().Be(RelayClientState.Unauthorized);
        Volatile.Read(ref _authentications).Should().Be(1, "a refused identity is not retried without a new token");
    }

    [Fact]
    public async Task TokenRefusedOnReconnect_OneUnauthorized_NoStorm_ThenAFreshTokenResumes()
    {
        string token = "bob";
        RecordingClient alice = await ConnectAsync("alice");
        RecordingClient bob = await ConnectAsync("bob", viaProxy: true, o => o.AccessTokenProvider = _ => ValueTask.FromResult<string?>(Volatile.Read(ref token)));
        int before = Volatile.Read(ref _authentications);
        Volatile.Write(ref token, "!anonymous");
        _proxy.CutAll();
        await bob.WaitForStateAsync(RelayClientState.Unauthorized);
        await alice.Client.SendAsync("team", RecordingClient.Body("while refused")).WaitAsync(Wait);
        await Task.Delay(1500);
        Volatile.Read(ref _authentications).Should().Be(before + 1, "one refused attempt, no reconnect storm");
        bob.Events<RelayUnauthorizedEventArgs>().Should().ContainSingle();

        Volatile.Write(ref token, "bob");
        await bob.Client.StartAsync().WaitAsync(Wait);
        await bob.WaitForMessagesAsync("team", 1);
        bob.MessagesOf("team").Single().Body.GetString().Should().Be("while refused", "the client caught up on what it missed while refused");
    }
}
