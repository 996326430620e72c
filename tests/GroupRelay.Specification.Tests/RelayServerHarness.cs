using System;
using System.Collections.Concurrent;
using System.Linq;
using System.Net.WebSockets;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace GroupRelay.Specification.Tests;

/// <summary>
/// A running relay server on 127.0.0.1 for the specification suite: each transport test project supplies one.
/// Clients authenticate with <c>?access_token=USER</c> (the harness's test authentication maps the token to the
/// user id as is; a token of <c>!anonymous</c> is refused).
/// </summary>
public abstract class RelayServerHarness : IAsyncDisposable
{
    /// <summary>The relay's WebSocket endpoint, without query.</summary>
    public abstract Uri RelayUri { get; }

    /// <summary>The server's services: IGroupRelay, the in-memory stores, the membership source.</summary>
    public abstract IServiceProvider Services { get; }

    protected RelayServerHarness() => MembershipSource = new TestMembershipSource(Membership);

    /// <summary>The membership the tests set up before connecting.</summary>
    public InMemoryMembershipSource Membership { get; } = new();

    /// <summary>
    /// The source a harness must register as the server's <see cref="IMembershipSource"/>: <see cref="Membership"/>
    /// plus injected faults (fail or hang for a user).
    /// </summary>
    public TestMembershipSource MembershipSource { get; }

    /// <summary>
    /// More registrations for the relay (message filters, observers), applied by <see cref="AddTestServices"/> on every
    /// node the harness starts; set before <c>StartAsync</c>.
    /// </summary>
    public Action<IGroupRelayBuilder>? ConfigureRelay { get; set; }

    private readonly ConcurrentDictionary<string, TimeSpan> _registrationDelays = new(StringComparer.Ordinal);

    /// <summary>Makes the registration of <paramref name="userId"/>'s connections in the online list take <paramref name="delay"/> (see <see cref="AddTestServices"/>).</summary>
    public void DelayRegistrationOf(string userId, TimeSpan delay) => _registrationDelays[userId] = delay;

    /// <summary>
    /// What every harness adds to its relay, after everything else (backplanes included): the test membership source
    /// and a wrapper around the registered <see cref="IPresenceRegistry"/> for <see cref="DelayRegistrationOf"/>.
    /// </summary>
    protected IGroupRelayBuilder AddTestServices(IGroupRelayBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.AddMembershipSource(MembershipSource);
        ConfigureRelay?.Invoke(builder);
        ServiceDescriptor registry = builder.Services.Last(d => d.ServiceType == typeof(IPresenceRegistry));
        builder.Services.Replace(ServiceDescriptor.Singleton<IPresenceRegistry>(sp => new SlowRegistrationPresenceRegistry(Resolve(sp, registry), _registrationDelays)));
        return builder;

        static IPresenceRegistry Resolve(IServiceProvider services, ServiceDescriptor descriptor)
            => (IPresenceRegistry)(descriptor.ImplementationInstance
                ?? descriptor.ImplementationFactory?.Invoke(services)
                ?? ActivatorUtilities.CreateInstance(services, descriptor.ImplementationType!));
    }

    /// <summary>
    /// How long a test listens for a frame that must not come, after a ping barrier on the same connection. A
    /// single node needs little; a scale-out harness whose frames cross a backplane can ask for more.
    /// </summary>
    public virtual TimeSpan QuietPeriod => TimeSpan.FromMilliseconds(150);

    /// <summary>How this transport refuses a login: true for an HTTP 401 at the handshake, false for close 4003 after open.</summary>
    public abstract bool RefusesAtHandshake { get; }

    /// <summary>Starts the server with the given options. Called once per test.</summary>
    public abstract Task StartAsync(Action<GroupRelayOptions> configure, CancellationToken cancellationToken = default);

    /// <summary>Stops the server gracefully (clients get 1001).</summary>
    public abstract Task StopAsync();

    public IGroupRelay Relay => Services.GetRequiredService<IGroupRelay>();

    public Uri UriFor(string user) => new(RelayUri + "?access_token=" + Uri.EscapeDataString(user));

    public Task<RelayTestClient> ConnectAsync(string user, bool waitForWelcome = true, bool startReading = true, Action<ClientWebSocketOptions>? configure = null)
        => RelayTestClient.ConnectAsync(UriFor(user), user, waitForWelcome, startReading, configure);

    public abstract ValueTask DisposeAsync();
}
