using System;
using System.Threading;
using System.Threading.Tasks;

namespace GroupRelay.LoadTest.Client;

/// <summary>One client connection of a system under test.</summary>
internal interface IBenchConnection : IAsyncDisposable
{
    /// <summary>Connects, authenticates, and completes once the server has registered the connection in its groups.</summary>
    Task ConnectAsync(CancellationToken cancellationToken);

    /// <summary>Publishes one message to <paramref name="group"/> with body <c>{"t":sentTimestamp,"n":counter,"x":"..."}</c>.</summary>
    ValueTask SendAsync(string group, long sentTimestamp, long counter);
}

/// <summary>The same payload text for every system.</summary>
internal static class Payload
{
    public const string Text = "the quick brown fox jumps over the lazy dog";
}
