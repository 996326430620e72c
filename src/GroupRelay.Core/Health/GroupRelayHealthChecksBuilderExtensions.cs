using System;
using System.Collections.Generic;
using GroupRelay.Internal;
using GroupRelay.ScaleOut;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds GroupRelay's health check to <c>services.AddHealthChecks()</c>.</summary>
public static class GroupRelayHealthChecksBuilderExtensions
{
    /// <summary>
    /// Adds a check of the relay: serving connections (unhealthy once the host stops), slow consumers (degraded when at
    /// least 10 % of the connections have more queued than <c>MaxQueueBytes</c>) and the backplane (with Redis: its
    /// connection and whether this node's entries are complete; unhealthy while sends are refused with
    /// <c>unavailable</c>). Its data: <c>connections</c>, <c>connections_behind</c>, <c>queued_bytes</c>,
    /// <c>backplane</c> and the backplane's own entries. Requires <c>services.AddGroupRelay()</c>.
    /// </summary>
    /// <param name="builder">The health checks builder.</param>
    /// <param name="name">The check's name. Default <c>grouprelay</c>.</param>
    /// <param name="failureStatus">What an unhealthy relay reports. Default <see cref="HealthStatus.Unhealthy"/>.</param>
    /// <param name="tags">Tags to filter checks by (for example <c>ready</c>).</param>
    /// <returns>The builder.</returns>
    /// <example>
    /// <code>
    /// builder.Services.AddHealthChecks().AddGroupRelay();
    /// app.MapHealthChecks("/healthz");
    /// </code>
    /// </example>
    public static IHealthChecksBuilder AddGroupRelay(this IHealthChecksBuilder builder, string name = "grouprelay", HealthStatus? failureStatus = null, IEnumerable<string>? tags = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrEmpty(name);
        return builder.Add(new HealthCheckRegistration(
            name,
            sp => new GroupRelayHealthCheck(sp.GetRequiredService<RelayLifecycle>(), sp.GetRequiredService<IRelayBackplane>()),
            failureStatus,
            tags));
    }
}
