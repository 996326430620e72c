using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using GroupRelay.Transports;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace GroupRelay.Benchmarks.Infrastructure;

/// <summary>
/// A relay core wired exactly as <c>AddGroupRelay()</c> wires it (a <see cref="ServiceCollection"/>), without a host or
/// a transport: connections are in-memory <see cref="CountingSocket"/>s.
/// </summary>
internal sealed class RelayFixture : IDisposable
{
    private readonly List<RelaySession> _sessions = new();
    private readonly Dictionary<RelaySession, CountingSocket> _sockets = new();
    private readonly ServiceProvider _services;

    public RelayFixture(Func<string, IReadOnlyCollection<string>> groupsOf, Action<GroupRelayOptions>? configure = null)
    {
        _services = new ServiceCollection()
            .AddGroupRelay(options =>
            {
                // The benchmarks measure routing, not the per-connection rate limit or presence events.
                options.RateLimitEnabled = false;
                options.SendJoinLeaveEvents = false;
                options.KeepAliveInterval = TimeSpan.Zero;
                configure?.Invoke(options);
            })
            .AddMembershipSource(new FunctionMembershipSource(groupsOf))
            .Services.BuildServiceProvider();
        Options = _services.GetRequiredService<IOptions<GroupRelayOptions>>().Value;
        Handler = _services.GetRequiredService<RelayConnectionHandler>();
        Directory = _services.GetRequiredService<InMemoryGroupDirectory>();
        Presence = _services.GetRequiredService<InMemoryPresenceRegistry>();
        Counter = new DeliveryCounter();
    }

    public GroupRelayOptions Options { get; }

    public RelayConnectionHandler Handler { get; }

    public InMemoryGroupDirectory Directory { get; }

    public InMemoryPresenceRegistry Presence { get; }

    /// <summary>Counts the messages every socket of this fixture sent (a coalesced frame counts once per message).</summary>
    public DeliveryCounter Counter { get; }

    /// <summary>
    /// Connects a user and waits until its <c>welcome</c> has gone through its writer loop. With
    /// <paramref name="record"/>, the session's socket keeps a copy of every frame, the <c>welcome</c> first, until
    /// its <see cref="CountingSocket.Record"/> is switched off (see <see cref="SocketOf"/>).
    /// </summary>
    public async Task<RelaySession> ConnectAsync(string user, bool record = false)
    {
        Counter.Arm(1);
        var socket = new CountingSocket(Counter) { Record = record };
        RelaySession session = await Handler.AcceptAsync(user, socket).ConfigureAwait(false);
        await Counter.WaitAsync().ConfigureAwait(false);
        _sessions.Add(session);
        _sockets.Add(session, socket);
        return session;
    }

    /// <summary>The in-memory socket of a session this fixture connected: what it was sent.</summary>
    public CountingSocket SocketOf(RelaySession session) => _sockets[session];

    public void Dispose()
    {
        foreach (RelaySession session in _sessions)
        {
            session.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }

        _sessions.Clear();
        _sockets.Clear();
        _services.Dispose();
    }

    private sealed class FunctionMembershipSource : IMembershipSource
    {
        private readonly Func<string, IReadOnlyCollection<string>> _groupsOf;

        public FunctionMembershipSource(Func<string, IReadOnlyCollection<string>> groupsOf) => _groupsOf = groupsOf;

        public ValueTask<IReadOnlyCollection<string>> GetGroupsAsync(string userId, CancellationToken cancellationToken = default) => new(_groupsOf(userId));

        public ValueTask<IReadOnlyCollection<string>> GetContactsAsync(string userId, CancellationToken cancellationToken = default) => new(Array.Empty<string>());
    }
}
