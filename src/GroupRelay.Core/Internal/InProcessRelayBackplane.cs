using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;
using System.Threading.Tasks;

namespace GroupRelay.Internal;

/// <summary>
/// The default <see cref="IRelayBackplane"/>: one process is the whole relay. Sequences and delivers in this process
/// exactly as the relay always did; the router does not even call it for messages (it takes the same path inline).
/// </summary>
internal sealed class InProcessRelayBackplane : IRelayBackplane
{
    private RelayLocalDelivery? _local;

    private RelayLocalDelivery Local => _local ?? throw new InvalidOperationException("The backplane is not attached to a relay.");

    public void Attach(RelayLocalDelivery localDelivery)
    {
        ArgumentNullException.ThrowIfNull(localDelivery);
        _local = localDelivery;
    }

    public async ValueTask<long> PublishMessageAsync(string groupId, string from, ReadOnlyMemory<byte> body, bool bodyIsCompact, RelayConnection? sender, bool echo, CancellationToken cancellationToken = default)
    {
        long started = Stopwatch.GetTimestamp();
        IReadOnlyList<string> members = await Local.Directory.GetMembersAsync(groupId, cancellationToken).ConfigureAwait(false);
        return Local.Router.SequenceAndQueue(groupId, from, body.Span, bodyIsCompact, echo ? null : sender, members, started).Seq;
    }

    public void PublishMemberEvent(string groupId, string userId, bool joined)
    {
        RelayLocalDelivery local = Local;
        ValueTask<IReadOnlyList<string>> pending = local.Directory.GetMembersAsync(groupId);
        if (pending.IsCompletedSuccessfully)
        {
            local.DeliverMemberEvent(pending.Result, groupId, userId, joined);
        }
        else
        {
            _ = SendLaterAsync(local, pending, groupId, userId, joined);
        }
    }

    public void PublishPresence(string userId, bool online, string? status) => Local.DeliverPresence(userId, online, status);

    public Task<bool> ChangeMembershipAsync(string userId, string groupId, bool add, CancellationToken cancellationToken = default)
        => add ? Local.Lifecycle.AddUserToGroupAsync(userId, groupId, cancellationToken) : Local.Lifecycle.RemoveUserFromGroupAsync(userId, groupId, cancellationToken);

    private static async Task SendLaterAsync(RelayLocalDelivery local, ValueTask<IReadOnlyList<string>> pending, string groupId, string userId, bool joined)
    {
        try
        {
            local.DeliverMemberEvent(await pending.ConfigureAwait(false), groupId, userId, joined);
        }
        catch (Exception ex)
        {
            local.EventFailed(userId, ex);
        }
    }
}
