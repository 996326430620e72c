using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using GroupRelay.Internal;
using Microsoft.Extensions.Options;

namespace GroupRelay.Benchmarks.Infrastructure;

/// <summary>
/// A relay core wired exactly as <c>AddGroupRelay()</c> wires it (through <see cref="RelayRuntime"/>), without a
/// host or a transport: connections are in-memory <see cref="CountingSocket"/>s.
/// </summary>
internal sealed class RelayFixture : IDisposable
{
    private readonly List<RelaySession> _sessions = new();

    public RelayFixture(Func<string, IReadOnlyCollection<string>> groupsOf, Action<GroupRelayOptions>? configure = null)
    {
        var options = new GroupRelayOptions
        {
            // The benchmarks measure routing, not the per-connection rate limit or presence events.
            RateLimitEnabled = false,
            SendJoinLeaveEvents = false,
            KeepAliveInterval = TimeSpan.Zero,
        };
        configure?.Invoke(options);
        Directory = new InMemoryGroupDirectory();
        Presence = new InMemoryPresenceRegistry();
        var services = new FixedServiceProvider(new Dictionary<Type, object>
        {
            [typeof(IOptions<GroupRelayOptions>)] = Microsoft.Extensions.Options.Options.Create(options),
            [typeof(IMembershipSource)] = new FunctionMembershipSource(groupsOf),
            [typeof(IPresenceRegistry)] = Presence,
            [typeof(IGroupDirectory)] = Directory,
        });
        Runtime = new RelayRuntime(services);
        Counter = new DeliveryCounter();
    }

    public RelayRuntime Runtime { get; }

    public RelayConnectionHandler Handler => Runtime.Handler;

    public InMemoryGroupDirectory Directory { get; }

    public InMemoryPresenceRegistry Presence { get; }

    /// <summary>Counts the messages every socket of this fixture sent (a coalesced frame counts once per message).</summary>
    public DeliveryCounter Counter { get; }

    /// <summary>Connects a user and waits until its <c>welcome</c> has gone through its writer loop.</summary>
    public async Task<RelaySession> ConnectAsync(string user)
    {
        Counter.Arm(1);
        RelaySession session = await Handler.AcceptAsync(user, new CountingSocket(Counter)).ConfigureAwait(false);
        await Counter.WaitAsync().ConfigureAwait(false);
        _sessions.Add(session);
        return session;
    }

    public void Dispose()
    {
        foreach (RelaySession session in _sessions)
        {
            session.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }

        _sessions.Clear();
        Runtime.Dispose();
    }

    private sealed class FixedServiceProvider : IServiceProvider
    {
        private readonly Dictionary<Type, object> _services;

        public FixedServiceProvider(Dictionary<Type, object> services) => _services = services;

        public object? GetService(Type serviceType) => _services.TryGetValue(serviceType, out object? service) ? service : null;
    }

    private sealed class FunctionMembershipSource : IMembershipSource
    {
        private readonly Func<string, IReadOnlyCollection<string>> _groupsOf;

        public FunctionMembershipSource(Func<string, IReadOnlyCollection<string>> groupsOf) => _groupsOf = groupsOf;

        public ValueTask<IReadOnlyCollection<string>> GetGroupsAsync(string userId, CancellationToken cancellationToken = default) => new(_groupsOf(userId));

        public ValueTask<IReadOnlyCollection<string>> GetContactsAsync(string userId, CancellationToken cancellationToken = default) => new(Array.Empty<string>());
    }
}
