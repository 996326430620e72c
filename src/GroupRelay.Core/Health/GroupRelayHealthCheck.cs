using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using GroupRelay.ScaleOut;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace GroupRelay.Internal;

/// <summary>
/// The relay's health (<c>services.AddHealthChecks().AddGroupRelay()</c>): whether it serves connections, how many of
/// them are slow consumers, and the backplane's own health (<see cref="IRelayBackplane.CheckHealthAsync"/>).
/// </summary>
/// <remarks>
/// Unhealthy: the host is stopping, or the backplane is unhealthy (sends are refused with <c>unavailable</c>).
/// Degraded: the backplane is degraded, or at least <see cref="BehindFractionForDegraded"/> of the connections (and at
/// least one) have more queued than <see cref="GroupRelayOptions.MaxQueueBytes"/> or <see cref="GroupRelayOptions.MaxQueueFrames"/>. Thread-safe; O(connections) per check.
/// </remarks>
internal sealed class GroupRelayHealthCheck : IHealthCheck
{
    /// <summary>The share of connections behind their queue bound from which the relay reports itself degraded.</summary>
    internal const double BehindFractionForDegraded = 0.1;

    private readonly RelayLifecycle _lifecycle;
    private readonly IRelayBackplane _backplane;

    public GroupRelayHealthCheck(RelayLifecycle lifecycle, IRelayBackplane backplane)
    {
        _lifecycle = lifecycle;
        _backplane = backplane;
    }

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        (int connections, int behind, long queuedBytes) = _lifecycle.QueuePressure();
        HealthCheckResult backplane;
        try
        {
            backplane = await _backplane.CheckHealthAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            backplane = HealthCheckResult.Unhealthy("the backplane's health check failed", ex);
        }

        var data = new Dictionary<string, object>(StringComparer.Ordinal)
        {
            ["connections"] = connections,
            ["connections_behind"] = behind,
            ["queued_bytes"] = queuedBytes,
            ["backplane"] = backplane.Status.ToString(),
        };
        if (backplane.Description is string about)
        {
            data["backplane_description"] = about;
        }

        foreach (KeyValuePair<string, object> pair in backplane.Data)
        {
            data["backplane." + pair.Key] = pair.Value;
        }

        if (_lifecycle.IsStopping)
        {
            return new HealthCheckResult(context.Registration.FailureStatus, "the relay is stopping: connections are being closed with 1001", data: data);
        }

        if (backplane.Status == HealthStatus.Unhealthy)
        {
            return new HealthCheckResult(context.Registration.FailureStatus, "the backplane is unhealthy: " + backplane.Description, backplane.Exception, data);
        }

        if (behind > 0 && behind >= connections * BehindFractionForDegraded)
        {
            return HealthCheckResult.Degraded($"{behind} of {connections} connections are behind their queue bound (slow consumers)", data: data);
        }

        return backplane.Status == HealthStatus.Degraded
            ? HealthCheckResult.Degraded("the backplane is degraded: " + backplane.Description, backplane.Exception, data)
            : HealthCheckResult.Healthy($"{connections} connections", data);
    }
}
