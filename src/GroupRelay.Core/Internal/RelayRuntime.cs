using System;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace GroupRelay.Internal;

/// <summary>
/// Wires the relay's internal parts to the abstractions resolved from DI, once per service provider.
/// Resolving it is what validates the configuration at start-up.
/// </summary>
internal sealed class RelayRuntime : IDisposable
{
    public RelayRuntime(IServiceProvider services)
    {
        Options = services.GetRequiredService<IOptions<GroupRelayOptions>>().Value;
        IMembershipSource membership = services.GetService<IMembershipSource>()
            ?? throw new GroupRelayException("No IMembershipSource is registered: GroupRelay cannot know which groups a user belongs to. Call services.AddGroupRelay().AddMembershipSource<YourSource>() (or AddMembershipSource(instance)).");
        Presence = services.GetRequiredService<IPresenceRegistry>();
        Directory = services.GetRequiredService<IGroupDirectory>();
        IPresencePolicy policy = services.GetService<IPresencePolicy>() ?? new DefaultPresencePolicy(membership, Directory);
        ILogger logger = services.GetService<ILoggerFactory>()?.CreateLogger("GroupRelay") ?? NullLogger.Instance;
        Metrics = new RelayMetrics(services.GetService<IMeterFactory>());
        Router = new GroupMessageRouter(Directory, Presence, Metrics, logger, Options, services.GetService<TimeProvider>() ?? TimeProvider.System);
        PresenceService = new PresenceService(Presence, policy, Router, Options, logger);
        Lifecycle = new RelayLifecycle(membership, Presence, Directory, Router, PresenceService, Metrics, Options, logger);
        LocalDelivery = new RelayLocalDelivery(Router, PresenceService, Directory, Metrics, Options, services.GetService<TimeProvider>() ?? TimeProvider.System, logger);
        LocalDelivery.SetLifecycle(Lifecycle);
        Backplane = services.GetService<IRelayBackplane>() ?? new InProcessRelayBackplane();
        Backplane.Attach(LocalDelivery);
        if (Backplane is not InProcessRelayBackplane)
        {
            Router.UseBackplane(Backplane);
            Lifecycle.Backplane = Backplane;
            PresenceService.Backplane = Backplane;
        }

        var dispatcher = new RequestDispatcher(new RequestParser(Options), Router, PresenceService, Presence, Directory, Lifecycle, Metrics, Options, logger);
        Handler = new RelayConnectionHandler(Lifecycle, dispatcher, Options, logger);
    }

    public GroupRelayOptions Options { get; }

    public IPresenceRegistry Presence { get; }

    public IGroupDirectory Directory { get; }

    public RelayMetrics Metrics { get; }

    public GroupMessageRouter Router { get; }

    public PresenceService PresenceService { get; }

    public RelayLifecycle Lifecycle { get; }

    public RelayConnectionHandler Handler { get; }

    /// <summary>What carries messages and events to the other nodes (the in-process default when there are none).</summary>
    public IRelayBackplane Backplane { get; }

    public RelayLocalDelivery LocalDelivery { get; }

    public void Dispose() => Metrics.Dispose();
}
