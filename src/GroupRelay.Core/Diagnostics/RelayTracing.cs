using System.Diagnostics;

namespace GroupRelay.Internal;

/// <summary>
/// The relay's spans on the <c>GroupRelay</c> <see cref="ActivitySource"/> (docs/configuration.md, "Tracing"): a
/// connection's start (the membership look-up included), each client request, and a message's send and its delivery on
/// a node, tagged per OpenTelemetry's messaging conventions where they apply (<c>messaging.system</c> =
/// <c>grouprelay</c>, <c>messaging.destination.name</c> = the group, <c>messaging.operation.type</c>).
/// </summary>
/// <remarks>
/// With no listener (no OpenTelemetry tracing, no <see cref="ActivityListener"/>), <see cref="ActivitySource.StartActivity(string, ActivityKind)"/>
/// returns null after one check and nothing else is done, so the hot path pays a branch per message.
/// </remarks>
internal static class RelayTracing
{
    public const string SourceName = "GroupRelay";

    public static readonly ActivitySource Source = new(SourceName, typeof(RelayTracing).Assembly.GetName().Version?.ToString());

    /// <summary>A connection's start: membership look-up, stream positions, registration (ends with <c>welcome</c> queued or the close).</summary>
    public static Activity? StartConnect(string connectionId, string userId)
    {
        Activity? activity = Source.StartActivity("grouprelay connect", ActivityKind.Server);
        if (activity is not null)
        {
            activity.SetTag("grouprelay.connection.id", connectionId);
            activity.SetTag("user.id", userId);
        }

        return activity;
    }

    /// <summary>A client's <c>send</c>: membership check, filters, ordering by the stream owner, and the answer.</summary>
    public static Activity? StartSend(string connectionId, string groupId, string? idempotencyKey)
    {
        Activity? activity = Source.StartActivity("send", ActivityKind.Producer);
        if (activity is not null)
        {
            activity.SetTag("messaging.system", "grouprelay");
            activity.SetTag("messaging.operation.type", "send");
            activity.SetTag("messaging.operation.name", "send");
            activity.SetTag("messaging.destination.name", groupId);
            activity.SetTag("messaging.client.id", connectionId);
            if (idempotencyKey is not null)
            {
                activity.SetTag("messaging.message.id", idempotencyKey);
            }
        }

        return activity;
    }

    /// <summary>Any other client request (<c>watch</c>, <c>members</c>, <c>history</c>, ...): <c>grouprelay {type}</c>.</summary>
    public static Activity? StartRequest(string connectionId, string type)
    {
        if (!Source.HasListeners())
        {
            return null;
        }

        Activity? activity = Source.StartActivity("grouprelay " + type, ActivityKind.Server);
        activity?.SetTag("grouprelay.connection.id", connectionId);
        return activity;
    }

    /// <summary>A message's fan-out on this node: its frame queued to every connection of the group's members here.</summary>
    public static Activity? StartDeliver(string groupId, long seq)
    {
        Activity? activity = Source.StartActivity("process", ActivityKind.Consumer);
        if (activity is not null)
        {
            activity.SetTag("messaging.system", "grouprelay");
            activity.SetTag("messaging.operation.type", "process");
            activity.SetTag("messaging.operation.name", "deliver");
            activity.SetTag("messaging.destination.name", groupId);
            activity.SetTag("grouprelay.seq", seq);
        }

        return activity;
    }

    /// <summary>Marks a span failed: status Error and <c>error.type</c> (a protocol error code, a close code, or an exception type).</summary>
    public static void Fail(Activity? activity, string errorType, string? description = null)
    {
        if (activity is not null)
        {
            activity.SetStatus(ActivityStatusCode.Error, description);
            activity.SetTag("error.type", errorType);
        }
    }
}
