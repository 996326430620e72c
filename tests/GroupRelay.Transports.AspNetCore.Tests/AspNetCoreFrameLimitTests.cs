using System;
using System.Text;
using System.Threading.Tasks;
using FluentAssertions;
using GroupRelay.Specification.Tests;
using Xunit;

namespace GroupRelay.Transports.AspNetCore.Tests;

/// <summary>
/// Issue 11 #5: <c>MaxFrameBytes</c> on Kestrel, with a raw RFC 6455 client that can declare a frame longer than it
/// sends. A frame of the limit passes; one byte more is refused with 1009 at once, without waiting for the rest.
/// </summary>
public sealed class AspNetCoreFrameLimitTests
{
    private static readonly TimeSpan Timeout = RawWebSocket.DefaultTimeout;

    [Theory]
    [InlineData(65536)] // the default, a power of two
    [InlineData(5000)]  // not one: the pool would round the buffer up
    public async Task FrameOfMaxFrameBytes_Passes_AndOneByteMore_IsClosedWith1009(int maxFrameBytes)
    {
        await using var server = new KestrelRelayHarness();
        await server.StartAsync(o => o.MaxFrameBytes = maxFrameBytes).WaitAsync(Timeout);
        await using RawWebSocket client = await ConnectAsync(server, "alice");

        await client.SendTextAsync(PaddedPing("p1", maxFrameBytes));
        (await client.ReceiveTextContainingAsync("pong")).Should().Contain("\"id\":\"p1\"");

        await client.SendTextAsync(PaddedPing("p2", maxFrameBytes + 1));
        (await client.ReceiveCloseAsync()).Should().Be(RelayCloseCodes.MessageTooBig);
    }

    [Fact]
    public async Task FrameOfMaxFrameBytes_InFragments_EndingWithAnEmptyOne_Passes()
    {
        const int MaxFrameBytes = 4096;
        await using var server = new KestrelRelayHarness();
        await server.StartAsync(o => o.MaxFrameBytes = MaxFrameBytes).WaitAsync(Timeout);
        await using RawWebSocket client = await ConnectAsync(server, "alice");
        byte[] frame = Encoding.UTF8.GetBytes(PaddedPing("f1", MaxFrameBytes));

        await client.SendFrameAsync(0x1, frame[..1000], fin: false);
        await client.SendFrameAsync(0x0, frame[1000..], fin: false);
        await client.SendFrameAsync(0x0, Array.Empty<byte>(), fin: true);

        (await client.ReceiveTextContainingAsync("pong")).Should().Contain("\"id\":\"f1\"");
    }

    [Theory]
    [InlineData(65537)]  // one byte past the limit
    [InlineData(131070)] // the example: the old receive buffer held 128 KiB
    public async Task DeclaredHugeFrame_IsClosedWith1009_AsSoonAsItPassesTheLimit_WithoutTheRest(int bytesSent)
    {
        await using var server = new KestrelRelayHarness();
        await server.StartAsync(_ => { }).WaitAsync(Timeout);
        await using RawWebSocket client = await ConnectAsync(server, "alice");
        byte[] start = Encoding.UTF8.GetBytes("{\"type\":\"ping\",\"pad\":\"" + new string('x', bytesSent));

        // A header that declares 10 MiB, then only part of the payload; the client keeps the connection open.
        await client.SendFrameStartAsync(0x1, 10 * 1024 * 1024, start.AsMemory(0, bytesSent));

        (await client.ReceiveCloseAsync()).Should().Be(RelayCloseCodes.MessageTooBig);
    }

    [Fact]
    public async Task OversizedFragmentedMessage_IsClosedWith1009()
    {
        const int MaxFrameBytes = 4096;
        await using var server = new KestrelRelayHarness();
        await server.StartAsync(o => o.MaxFrameBytes = MaxFrameBytes).WaitAsync(Timeout);
        await using RawWebSocket client = await ConnectAsync(server, "alice");
        byte[] frame = Encoding.UTF8.GetBytes(PaddedPing("f2", MaxFrameBytes));

        await client.SendFrameAsync(0x1, frame, fin: false);
        await client.SendFrameAsync(0x0, new[] { (byte)' ' }, fin: false);

        (await client.ReceiveCloseAsync()).Should().Be(RelayCloseCodes.MessageTooBig);
    }

    private static async Task<RawWebSocket> ConnectAsync(KestrelRelayHarness server, string user)
    {
        RawWebSocket client = await RawWebSocket.ConnectAsync(server.RelayUri, user);
        client.HandshakeResponse.Should().StartWith("HTTP/1.1 101");
        await client.ReceiveTextContainingAsync("welcome");
        return client;
    }

    /// <summary>A <c>ping</c> of exactly <paramref name="bytes"/> bytes of UTF-8.</summary>
    private static string PaddedPing(string id, int bytes)
    {
        string prefix = "{\"type\":\"ping\",\"id\":\"" + id + "\",\"pad\":\"";
        const string Suffix = "\"}";
        string frame = prefix + new string('x', bytes - prefix.Length - Suffix.Length) + Suffix;
        Encoding.UTF8.GetByteCount(frame).Should().Be(bytes);
        return frame;
    }
}
