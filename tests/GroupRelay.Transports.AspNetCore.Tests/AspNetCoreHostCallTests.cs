using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using FluentAssertions;
using GroupRelay.Specification.Tests;
using Xunit;

namespace GroupRelay.Transports.AspNetCore.Tests;

/// <summary>
/// Issue 11 #3 on real Kestrel: a membership source that blocks its thread (a synchronous driver behind an async
/// signature) must not starve the thread pool that serves every other connection.
/// </summary>
public sealed class AspNetCoreHostCallTests
{
    private const int BlockingLookups = 24;
    private static readonly TimeSpan Timeout = RelayTestClient.DefaultTimeout;
    private static readonly TimeSpan MembershipTimeout = TimeSpan.FromSeconds(3);

    [Fact]
    public async Task TwentyFourBlockingMembershipLookups_DoNotDelayAnotherConnectionsPongBeyondTheTimeout_AndEachGets1011()
    {
        await using var server = new KestrelRelayHarness();
        using var release = new ManualResetEventSlim();
        for (int i = 0; i < BlockingLookups; i++)
        {
            server.MembershipSource.BlockUntil($"blocked{i}", release);
        }

        await server.StartAsync(o => o.MembershipTimeout = MembershipTimeout).WaitAsync(Timeout);
        await using RelayTestClient bob = await server.ConnectAsync("bob");
        var blocked = new List<RelayTestClient>();
        try
        {
            Task<RelayTestClient>[] connecting = Enumerable.Range(0, BlockingLookups)
                .Select(i => server.ConnectAsync($"blocked{i}", waitForWelcome: false))
                .ToArray();
            blocked.AddRange(await Task.WhenAll(connecting).WaitAsync(Timeout));
            await WaitUntilAsync(() => server.MembershipSource.BlockedCalls == BlockingLookups, $"{BlockingLookups} lookups block their threads");

            // The measure of the issue: another connection's pong is not delayed by more than the timeout.
            JsonElement pong = await bob.RequestAsync(new Dictionary<string, object?> { ["type"] = "ping", ["id"] = "p1" }).WaitAsync(MembershipTimeout);
            pong.GetProperty("type").GetString().Should().Be("pong");

            int?[] codes = await Task.WhenAll(blocked.Select(c => c.WaitForCloseAsync())).WaitAsync(Timeout);
            codes.Should().AllSatisfy(code => code.Should().Be(RelayCloseCodes.InternalError));
            server.MembershipSource.BlockedCalls.Should().Be(BlockingLookups, "the relay stopped waiting; the host is still blocked");

            // A new connection is served while the 24 are still blocked.
            await using RelayTestClient carol = await server.ConnectAsync("carol").WaitAsync(MembershipTimeout);
            carol.Welcome.GetProperty("user").GetString().Should().Be("carol");
        }
        finally
        {
            release.Set();
            foreach (RelayTestClient client in blocked)
            {
                await client.DisposeAsync();
            }
        }

        await WaitUntilAsync(() => server.MembershipSource.BlockedCalls == 0, "the blocked lookups return");
        JsonElement after = await bob.RequestAsync(new Dictionary<string, object?> { ["type"] = "ping", ["id"] = "p2" });
        after.GetProperty("type").GetString().Should().Be("pong");
        (await server.Relay.GetPresenceAsync("blocked0").AsTask().WaitAsync(Timeout)).IsOnline.Should().BeFalse("late answers register nothing");
    }

    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        DateTime deadline = DateTime.UtcNow + Timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Timed out waiting until {what}.");
            }

            await Task.Delay(20);
        }
    }
}
