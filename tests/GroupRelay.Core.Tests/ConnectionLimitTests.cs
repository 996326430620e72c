using System;
using System.Threading.Tasks;
using FluentAssertions;
using GroupRelay.Core.Tests.Infrastructure;
using GroupRelay.Internal;
using GroupRelay.Transports;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace GroupRelay.Core.Tests;

/// <summary>Connections per user, per address and in total (issue 14 §3): over a limit the connection is refused, counted and logged.</summary>
public sealed class ConnectionLimitTests
{
    [Fact]
    public async Task OneConnectionMoreThanMaxConnectionsPerUser_IsClosedWith1013_AndASlotFreesWhenOneCloses()
    {
        await using RelayTestHost host = RelayTestHost.Create(o => o.MaxConnectionsPerUser = 2);
        using var metrics = new MetricsRecorder(host.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>());
        TestConnection first = await host.ConnectAsync("alice");
        await host.ConnectAsync("alice");

        TestConnection third = await host.ConnectAsync("alice", waitForWelcome: false);

        (await third.Socket.WaitForCloseAsync()).Should().Be(RelayCloseCodes.TryAgainLater);
        third.Socket.CloseReason.Should().Be("connection limit");
        third.Socket.OfType("welcome").Should().BeEmpty();
        metrics.Sum("grouprelay.connection.refusals", "grouprelay.connection.limit", "user").Should().Be(1);
        (await host.ConnectAsync("bob")).Socket.OfType("welcome").Should().ContainSingle("other users have slots of their own");

        await first.DisposeAsync();
        await third.DisposeAsync();
        host.Services.GetRequiredService<ConnectionLimits>().CountOf("alice").Should().Be(1, "the closed connection gave its slot back, the refused one never had one");
        (await host.ConnectAsync("alice")).Socket.OfType("welcome").Should().ContainSingle();
    }

    [Fact]
    public async Task Admit_PerAddressAndTotal_RefuseNamingTheLimit_AndADisposedSlotIsGivenBack()
    {
        await using RelayTestHost host = RelayTestHost.Create(o => { o.MaxConnectionsPerAddress = 2; o.MaxConnections = 3; });
        RelayConnectionHandler handler = host.Handler;

        using RelayAdmission a1 = handler.Admit("a", "10.0.0.1");
        using RelayAdmission a2 = handler.Admit("b", "10.0.0.1");
        using RelayAdmission a3 = handler.Admit("c", "10.0.0.1");
        a3.IsAdmitted.Should().BeFalse();
        a3.RefusalReason.Should().Contain("address 10.0.0.1").And.Contain("MaxConnectionsPerAddress");

        using RelayAdmission b1 = handler.Admit("d", "10.0.0.2");
        using RelayAdmission b2 = handler.Admit("e", "10.0.0.2");
        b1.IsAdmitted.Should().BeTrue();
        b2.IsAdmitted.Should().BeFalse();
        b2.RefusalReason.Should().Contain("MaxConnections");

        a1.Dispose();
        a1.Dispose();
        using RelayAdmission b3 = handler.Admit("e", "10.0.0.2");
        b3.IsAdmitted.Should().BeTrue("a disposed slot is given back once");
        using RelayAdmission b4 = handler.Admit("f", "10.0.0.3");
        b4.IsAdmitted.Should().BeFalse("disposing twice gave back one slot, not two");
    }

    [Fact]
    public void Defaults_AreOneHundredPerUser_OneThousandPerAddress_AndNoTotal()
    {
        var options = new GroupRelayOptions();

        options.MaxConnectionsPerUser.Should().Be(100);
        options.MaxConnectionsPerAddress.Should().Be(1000);
        options.MaxConnections.Should().BeNull();
    }
}
