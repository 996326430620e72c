using System;
using System.Net.WebSockets;
using System.Text.Json;
using System.Threading.Tasks;
using FluentAssertions;
using Xunit;

namespace GroupRelay.Specification.Tests;

public abstract partial class RelayProtocolSpecification
{
    [Theory]
    [InlineData(WebSocketMessageType.Text)]
    [InlineData(WebSocketMessageType.Binary)]
    public async Task EmptyFrame_IsBadRequest_AndTheNextFrameIsHandledOnItsOwn(WebSocketMessageType type)
    {
        await StartAsync();
        RelayTestClient alice = await ConnectAsync("alice");

        await alice.SendRawAsync(Array.Empty<byte>(), type);
        await alice.SendTextAsync("{\"type\":\"ping\",\"id\":\"after-empty\"}");

        JsonElement error = await alice.ReceiveAsync();
        Type(error).Should().Be("error");
        error.GetProperty("code").GetString().Should().Be("bad_request");
        JsonElement pong = await alice.ReceiveAsync();
        Type(pong).Should().Be("pong");
        pong.GetProperty("id").GetString().Should().Be("after-empty");
    }
}
