using System;
using System.Diagnostics.Metrics;
using System.Linq;
using GroupRelay;
using GroupRelay.Internal;
using GroupRelay.ScaleOut;
using GroupRelay.Transports;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers GroupRelay in a service collection.</summary>
public static class GroupRelayServiceCollectionExtensions
{
    /// <summary>Adds GroupRelay with default options. See the other overload.</summary>
    /// <param name="services">The service collection.</param>
    /// <returns>A builder for add-ons such as <c>AddMembershipSource&lt;T&gt;()</c>.</returns>
    public static IGroupRelayBuilder AddGroupRelay(this IServiceCollection services)
        => services.AddGroupRelay(static _ => { });

    /// <summary>
    /// Adds GroupRelay with <see cref="GroupRelayOptions"/> bound from <paramref name="configuration"/> (for example
    /// <c>builder.Configuration.GetSection("GroupRelay")</c>: keys are the option names, times as <c>hh:mm:ss</c>), then
    /// <paramref name="configure"/> on top. Validated when the host starts, as with the other overload; a value that
    /// cannot be converted (text for a number) fails there too, naming the key. See the other overload.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configuration">The configuration section holding the options.</param>
    /// <param name="configure">Sets options after binding (optional).</param>
    /// <returns>A builder for add-ons such as <c>AddMembershipSource&lt;T&gt;()</c>.</returns>
    /// <example>
    /// <code>
    /// // appsettings.json: { "GroupRelay": { "MaxFrameBytes": 32768, "PresenceGracePeriod": "00:00:03" } }
    /// builder.Services.AddGroupRelay(builder.Configuration.GetSection("GroupRelay"))
    ///                 .AddMembershipSource&lt;DbMembership&gt;();
    /// </code>
    /// </example>
    public static IGroupRelayBuilder AddGroupRelay(this IServiceCollection services, IConfiguration configuration, Action<GroupRelayOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<GroupRelayOptions>().Bind(configuration, binder => binder.ErrorOnUnknownConfiguration = true);
        return services.AddGroupRelay(configure ?? (static _ => { }));
    }

    /// <summary>
    /// Adds GroupRelay: the in-memory online list and group index and the in-process backplane (unless others are
    /// registered), the relay core, <see cref="IGroupRelay"/> for host code, and a hosted service that closes
    /// connections with 1001 at shutdown. Options are validated when the host starts.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Sets <see cref="GroupRelayOptions"/>.</param>
    /// <returns>A builder for add-ons such as <c>AddMembershipSource&lt;T&gt;()</c>.</returns>
    /// <example>
    /// <code>
    /// builder.Services.AddGroupRelay(o =&gt; o.MaxFrameBytes = 32 * 1024)
    ///                 .AddMembershipSource&lt;DbMembership&gt;();
    /// </code>
    /// </example>
    public static IGroupRelayBuilder AddGroupRelay(this IServiceCollection services, Action<GroupRelayOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<GroupRelayOptions>().Configure(configure).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<GroupRelayOptions>, GroupRelayOptionsValidator>());

        // The stores: public defaults a host (or a scale-out package) may replace or wrap.
        services.TryAddSingleton<InMemoryPresenceRegistry>();
        services.TryAddSingleton<IPresenceRegistry>(sp => sp.GetRequiredService<InMemoryPresenceRegistry>());
        services.TryAddSingleton<InMemoryGroupDirectory>();
        services.TryAddSingleton<IGroupDirectory>(sp => sp.GetRequiredService<InMemoryGroupDirectory>());
        services.TryAddSingleton<IPresencePolicy>(sp => new DefaultPresencePolicy(Membership(sp), sp.GetRequiredService<IGroupDirectory>()));

        // The core, built in one direction: stores -> local delivery (fan-out) -> backplane (stream owner) -> lifecycle
        // and requests. Each part gets what it needs through its constructor; nothing is wired after construction.
        services.TryAddSingleton(sp => new RelayMetrics(sp.GetService<IMeterFactory>()));
        services.TryAddSingleton(_ => new UserGate());
        services.TryAddSingleton(sp => new HostCalls(Logger(sp)));
        services.TryAddSingleton(sp => new LocalMembership(sp.GetRequiredService<IPresenceRegistry>(), sp.GetRequiredService<IGroupDirectory>(), sp.GetRequiredService<UserGate>()));
        services.TryAddSingleton(sp => new PresenceWatchers(sp.GetRequiredService<IPresenceRegistry>(), sp.GetRequiredService<IPresencePolicy>(), sp.GetRequiredService<HostCalls>(), Options(sp), Logger(sp)));
        services.TryAddSingleton(sp => new RelayLocalDelivery(
            sp.GetRequiredService<IPresenceRegistry>(),
            sp.GetRequiredService<PresenceWatchers>(),
            sp.GetRequiredService<LocalMembership>(),
            sp.GetRequiredService<RelayMetrics>(),
            Options(sp),
            Clock(sp)));
        services.TryAddSingleton(sp => new IdempotencyKeys(Options(sp), Clock(sp)));
        services.TryAddSingleton(sp => new RetainedMessages(Options(sp), Clock(sp)));
        services.TryAddSingleton<IRelayBackplane>(sp => new InProcessRelayBackplane(
            sp.GetRequiredService<RelayLocalDelivery>(),
            sp.GetRequiredService<IGroupDirectory>(),
            sp.GetRequiredService<RetainedMessages>(),
            sp.GetRequiredService<IdempotencyKeys>(),
            Clock(sp),
            Logger(sp)));
        services.TryAddSingleton(sp => new MessageObservers(sp.GetServices<IMessageObserver>().ToArray(), Options(sp), sp.GetRequiredService<RelayMetrics>(), Logger(sp)));
        services.TryAddSingleton(sp => new MessageRouter(sp.GetRequiredService<IGroupDirectory>(), sp.GetRequiredService<IRelayBackplane>(), sp.GetRequiredService<MessageObservers>(), sp.GetRequiredService<RelayMetrics>()));
        services.TryAddSingleton(sp => new MembershipLoader(Membership(sp), sp.GetRequiredService<HostCalls>(), Options(sp), Logger(sp)));
        services.TryAddSingleton(sp => new RelayLifecycle(sp.GetRequiredService<MembershipLoader>(), sp.GetRequiredService<LocalMembership>(), sp.GetRequiredService<IRelayBackplane>(), sp.GetRequiredService<IPresenceRegistry>(), sp.GetRequiredService<RelayMetrics>(), Options(sp), Clock(sp), Logger(sp)));
        services.TryAddSingleton(sp => new PresenceStatus(sp.GetRequiredService<IPresenceRegistry>(), sp.GetRequiredService<UserGate>(), sp.GetRequiredService<IRelayBackplane>()));
        services.TryAddSingleton(sp => new MessageFilters(sp.GetServices<IMessageFilter>().ToArray(), Options(sp), Logger(sp)));
        services.TryAddSingleton(sp => new RequestDispatcher(
            sp.GetRequiredService<MessageRouter>(),
            sp.GetRequiredService<MessageFilters>(),
            sp.GetRequiredService<PresenceWatchers>(),
            sp.GetRequiredService<PresenceStatus>(),
            sp.GetRequiredService<RelayMetrics>(),
            Options(sp),
            Logger(sp)));

        // What transports and host code use.
        services.TryAddSingleton(sp => new ConnectionLimits(Options(sp)));
        services.TryAddSingleton(sp => new RelayConnectionHandler(sp.GetRequiredService<RelayLifecycle>(), sp.GetRequiredService<RequestDispatcher>(), sp.GetRequiredService<PresenceWatchers>(), sp.GetRequiredService<ConnectionLimits>(), sp.GetRequiredService<MembershipLoader>(), sp.GetRequiredService<RelayMetrics>(), Options(sp), Logger(sp)));
        services.TryAddSingleton<IGroupRelay>(sp => new GroupRelayService(sp.GetRequiredService<MessageRouter>(), sp.GetRequiredService<RelayLifecycle>(), sp.GetRequiredService<IPresenceRegistry>(), Options(sp)));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, GroupRelayLifetimeService>());
        return new GroupRelayBuilder(services);
    }

    private static GroupRelayOptions Options(IServiceProvider services) => services.GetRequiredService<IOptions<GroupRelayOptions>>().Value;

    private static TimeProvider Clock(IServiceProvider services) => services.GetService<TimeProvider>() ?? TimeProvider.System;

    private static ILogger Logger(IServiceProvider services) => services.GetService<ILoggerFactory>()?.CreateLogger("GroupRelay") ?? NullLogger.Instance;

    private static IMembershipSource Membership(IServiceProvider services)
        => services.GetService<IMembershipSource>()
           ?? throw new GroupRelayException("No IMembershipSource is registered: GroupRelay cannot know which groups a user belongs to. Call services.AddGroupRelay().AddMembershipSource<YourSource>() (or AddMembershipSource(instance)).");
}
