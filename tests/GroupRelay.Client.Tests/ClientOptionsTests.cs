using System;
using System.Linq;
using FluentAssertions;
using Xunit;

namespace GroupRelay.Client.Tests;

/// <summary>Options are checked when the client is constructed, with a message that names the option.</summary>
public sealed class ClientOptionsTests
{
    private static GroupRelayClientOptions Valid()
    {
        var options = new GroupRelayClientOptions();
        options.Urls.Add(new Uri("ws://127.0.0.1:1/relay"));
        return options;
    }

    [Theory]
    [InlineData("Urls")]
    [InlineData("UrlScheme")]
    [InlineData("ReconnectDelays")]
    [InlineData("ReconnectJitter")]
    [InlineData("MaxQueuedSends")]
    [InlineData("MessageBufferCapacity")]
    [InlineData("HistoryPageSize")]
    [InlineData("HandshakeTimeout")]
    [InlineData("ServerTimeout")]
    [InlineData("ResendWindow")]
    [InlineData("MaxFrameBytes")]
    public void InvalidOption_FailsConstruction_NamingTheOption(string option)
    {
        GroupRelayClientOptions options = Valid();
        string name = option;
        switch (option)
        {
            case "Urls": options.Urls.Clear(); break;
            case "UrlScheme": options.Urls[0] = new Uri("http://127.0.0.1/relay"); name = "Urls"; break;
            case "ReconnectDelays": options.ReconnectDelays.Add(TimeSpan.FromSeconds(-1)); break;
            case "ReconnectJitter": options.ReconnectJitter = 1.5; break;
            case "MaxQueuedSends": options.MaxQueuedSends = 1001; break;
            case "MessageBufferCapacity": options.MessageBufferCapacity = 0; break;
            case "HistoryPageSize": options.HistoryPageSize = 0; break;
            case "HandshakeTimeout": options.HandshakeTimeout = TimeSpan.Zero; break;
            case "ServerTimeout": options.ServerTimeout = options.KeepAliveInterval; break;
            case "ResendWindow": options.ResendWindow = TimeSpan.Zero; break;
            case "MaxFrameBytes": options.MaxFrameBytes = 10; break;
        }

        Action create = () => _ = new GroupRelayClient(options);
        create.Should().Throw<ArgumentException>().WithMessage($"GroupRelayClientOptions.{name} *");
    }

    [Fact]
    public void Options_AreCopied_LaterChangesDoNotReachTheClient()
    {
        GroupRelayClientOptions options = Valid();
        var client = new GroupRelayClient(options);
        options.Urls.Clear();
        client.State.Should().Be(RelayClientState.Disconnected);
        client.GetPositions().Should().BeEmpty();
    }

    [Fact]
    public void DefaultPolicy_UsesTheDelaysInOrder_RepeatsTheLast_AndSpreadsThemByTheJitter()
    {
        var policy = new Internal.DefaultReconnectPolicy(new[] { TimeSpan.Zero, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(10) }, 0.2);
        policy.NextRetryDelay(new RelayRetryContext(0, TimeSpan.Zero, null)).Should().Be(TimeSpan.Zero);
        for (int i = 0; i < 50; i++)
        {
            policy.NextRetryDelay(new RelayRetryContext(1, TimeSpan.Zero, null))!.Value.TotalMilliseconds.Should().BeInRange(800, 1200);
            policy.NextRetryDelay(new RelayRetryContext(99, TimeSpan.Zero, null))!.Value.TotalMilliseconds.Should().BeInRange(8000, 12000);
        }
    }
}

/// <summary>The client ships alone: the BCL and Microsoft.Extensions.Logging.Abstractions, never the server.</summary>
public sealed class ClientPackageTests
{
    [Fact]
    public void ClientAssembly_ReferencesOnlyTheBclAndLoggingAbstractions()
    {
        string[] references = typeof(GroupRelayClient).Assembly.GetReferencedAssemblies().Select(a => a.Name!).ToArray();
        references.Should().OnlyContain(name => name.StartsWith("System", StringComparison.Ordinal) || name == "netstandard"
            || name == "Microsoft.Extensions.Logging.Abstractions");
        references.Should().NotContain(name => name.StartsWith("GroupRelay", StringComparison.Ordinal));
    }
}
