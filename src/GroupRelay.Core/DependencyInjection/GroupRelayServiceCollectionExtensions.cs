using System;
using GroupRelay;
using GroupRelay.Internal;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
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
    /// Adds GroupRelay: the in-memory online list and group index and the in-process backplane (unless others are
    /// registered), the relay core,
    /// <see cref="IGroupRelay"/> for host code, and a hosted service that closes connections with 1001 at shutdown.
    /// Options are validated when the host starts.
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
        services.TryAddSingleton<InMemoryPresenceRegistry>();
        services.TryAddSingleton<IPresenceRegistry>(sp => sp.GetRequiredService<InMemoryPresenceRegistry>());
        services.TryAddSingleton<InMemoryGroupDirectory>();
        services.TryAddSingleton<IGroupDirectory>(sp => sp.GetRequiredService<InMemoryGroupDirectory>());
        services.TryAddSingleton<IRelayBackplane, InProcessRelayBackplane>();
        services.TryAddSingleton<RelayRuntime>();
        services.TryAddSingleton(sp => sp.GetRequiredService<RelayRuntime>().Handler);
        services.TryAddSingleton<IGroupRelay, GroupRelayService>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, GroupRelayLifetimeService>());
        return new GroupRelayBuilder(services);
    }
}
