using System.Threading.Tasks;
using FluentAssertions;
using GroupRelay.Core.Tests.Infrastructure;
using Xunit;

namespace GroupRelay.Core.Tests;

public sealed class RelayRoutingTests
{
    [Fact]
    public async Task Accept_KnownUser_WelcomeIsFirstFrame()
    {
        await using RelayTestHost host = RelayTestHost.Create();
        host.Group("team", "alice");
        TestConnection alice = await host.ConnectAsync("alice");
        alice.Socket.Parsed[0].GetProperty("type").GetString().Should().Be("welcome");
    }
}
