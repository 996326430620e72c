using System;
using System.Linq;
using GroupRelay;
using GroupRelay.Transports.Fleck;
using GroupRelay.Transports.Fleck.Internal;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds the Fleck transport to a GroupRelay registration.</summary>
public static class FleckRelayBuilderExtensions
{
    /// <summary>
    /// Serves GroupRelay from a Fleck WebSocket server at <paramref name="location"/>, started and stopped with the
    /// host (a hosted service; at shutdown every client gets 1001 before the listener closes). One Fleck server per
    /// service collection. <see cref="FleckRelayServer"/> is registered as a singleton, for its actual
    /// <see cref="FleckRelayServer.Port"/>. Options are validated when the host starts.
    /// </summary>
    /// <param name="builder">The builder <c>AddGroupRelay()</c> returned.</param>
    /// <param name="location">Where to listen, for example <c>ws://0.0.0.0:8181</c> (an IP address, not a host name).</param>
    /// <param name="configure">Sets the authenticator (required) and the transport's other options.</param>
    /// <returns>The builder.</returns>
    /// <example>
    /// <code>
    /// builder.Services.AddGroupRelay()
    ///     .AddMembershipSource&lt;DbMembership&gt;()
    ///     .AddFleckServer("ws://0.0.0.0:8181", o =&gt; o.Authenticate = info =&gt;
    ///         FleckRelayAuthentication.GetAccessToken(info) is { } token ? tokens.UserOf(token) : null);
    /// </code>
    /// </example>
    public static IGroupRelayBuilder AddFleckServer(this IGroupRelayBuilder builder, string location, Action<FleckRelayServerOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(location);
        ArgumentNullException.ThrowIfNull(configure);
        FleckRelayServer.ValidateLocation(location);
        if (builder.Services.Any(d => d.ServiceType == typeof(FleckRelayServer)))
        {
            throw new GroupRelayException("AddFleckServer was already called on this service collection; GroupRelay runs one Fleck server per host.");
        }

        builder.Services.AddOptions<FleckRelayServerOptions>().Configure(configure).ValidateOnStart();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<FleckRelayServerOptions>, FleckRelayServerOptionsValidator>());
        builder.Services.AddSingleton(sp => new FleckRelayServer(location, sp.GetRequiredService<IOptions<FleckRelayServerOptions>>().Value, sp, ownedServices: null));
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, FleckRelayHostedService>());
        return builder;
    }
}
