using System;
using GroupRelay;
using GroupRelay.Transports;
using GroupRelay.Transports.AspNetCore;
using GroupRelay.Transports.AspNetCore.Internal;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Maps the GroupRelay WebSocket endpoint.</summary>
public static class GroupRelayEndpointRouteBuilderExtensions
{
    /// <summary>Maps the GroupRelay endpoint at <paramref name="pattern"/> with default endpoint options.</summary>
    /// <param name="endpoints">The app or route group.</param>
    /// <param name="pattern">The route, for example <c>/relay</c>.</param>
    /// <returns>A builder for conventions such as <c>.RequireAuthorization()</c>.</returns>
    public static IEndpointConventionBuilder MapGroupRelay(this IEndpointRouteBuilder endpoints, string pattern)
        => endpoints.MapGroupRelay(pattern, static _ => { });

    /// <summary>
    /// Maps the GroupRelay endpoint at <paramref name="pattern"/>. The user id comes from the host's authentication
    /// (<c>HttpContext.User</c>): an anonymous upgrade gets HTTP 401 and no WebSocket. A plain request (no upgrade) gets
    /// 401 when the authentication refuses it and 400 when it is valid, so that a browser client, which cannot see why
    /// an upgrade failed, can tell a refused token from a relay that is down (PROTOCOL.md section 6.4). Unless
    /// <see cref="GroupRelayEndpointOptions.ServeClientScript"/> is off, <c>{pattern}/client.js</c> and
    /// <c>{pattern}/client.d.ts</c> serve the JavaScript client. Requires <c>services.AddGroupRelay()</c> and
    /// <c>app.UseWebSockets()</c>.
    /// </summary>
    /// <param name="endpoints">The app or route group.</param>
    /// <param name="pattern">The route, for example <c>/relay</c>.</param>
    /// <param name="configure">Sets the endpoint's options.</param>
    /// <returns>A builder for conventions such as <c>.RequireAuthorization()</c>.</returns>
    /// <example>
    /// <code>
    /// builder.Services.AddGroupRelay().AddMembershipSource&lt;DbMembership&gt;();
    /// var app = builder.Build();
    /// app.UseAuthentication();
    /// app.UseWebSockets();
    /// app.MapGroupRelay("/relay").RequireAuthorization();
    /// </code>
    /// </example>
    public static IEndpointConventionBuilder MapGroupRelay(this IEndpointRouteBuilder endpoints, string pattern, Action<GroupRelayEndpointOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(pattern);
        ArgumentNullException.ThrowIfNull(configure);
        if (endpoints.ServiceProvider.GetService<RelayConnectionHandler>() is null)
        {
            throw new GroupRelayException("MapGroupRelay needs GroupRelay's services: call builder.Services.AddGroupRelay() before building the app.");
        }

        var options = new GroupRelayEndpointOptions();
        configure(options);
        var endpoint = new WebSocketRelayEndpoint(endpoints.ServiceProvider.GetRequiredService<RelayConnectionHandler>(), options, endpoints.ServiceProvider);
        IEndpointConventionBuilder relay = endpoints.Map(pattern, endpoint.HandleAsync).WithDisplayName("GroupRelay " + pattern);
        if (options.ServeClientScript)
        {
            ClientScriptFile.Map(endpoints, pattern);
        }

        return relay;
    }
}
