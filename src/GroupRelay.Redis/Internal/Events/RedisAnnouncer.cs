using System.Collections.Generic;

namespace GroupRelay.Internal;

/// <summary>
/// Announces events to every node: <c>joined</c>/<c>left</c> on the group's channel, <c>presence</c> on the events
/// channel; while Redis is away, to this node's connections only. Also announces what a node's removal ended.
/// </summary>
/// <remarks>Thread-safety in one sentence: stateless; publishing is fire and forget, so it never blocks the caller (who may hold a user's lock).</remarks>
internal sealed class RedisAnnouncer
{
    private readonly RedisGuard _guard;
    private readonly RedisKeys _keys;
    private readonly NodeDelivery _delivery;

    public RedisAnnouncer(RedisGuard guard, RedisKeys keys, NodeDelivery delivery)
    {
        _guard = guard;
        _keys = keys;
        _delivery = delivery;
    }

    public void PublishMemberEvent(string groupId, string userId, bool joined)
    {
        if (!_guard.TryPublish(_keys.GroupChannel(groupId), RedisPayload.Strings(joined ? RedisPayload.Joined : RedisPayload.Left, userId), joined ? "joined" : "left"))
        {
            _delivery.DeliverMemberEvent(groupId, userId, joined);
        }
    }

    public void PublishPresence(string userId, bool online, string? status)
    {
        if (!_guard.TryPublish(_keys.Events, RedisPayload.Strings(RedisPayload.Presence, userId, online ? "1" : "0", status), "presence"))
        {
            _delivery.DeliverPresence(userId, online, status);
        }
    }

    /// <summary>Tells everyone about users that a node's removal took offline and memberships it ended.</summary>
    public void AnnounceGone(NodeRemoval removal)
    {
        if (_delivery.SendJoinLeaveEvents)
        {
            foreach ((string group, string user) in removal.Gone)
            {
                PublishMemberEvent(group, user, joined: false);
            }
        }

        foreach (string user in removal.Offline)
        {
            PublishPresence(user, online: false, status: null);
        }
    }
}
