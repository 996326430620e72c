using StackExchange.Redis;

namespace GroupRelay.Internal;

/// <summary>A group channel this node subscribed to, handed to <see cref="GroupMessageReceiver"/>.</summary>
/// <param name="GroupId">The group.</param>
/// <param name="Queue">The subscription's queue: messages wait in it, in publication order, until the receiver reads them.</param>
/// <remarks>Thread-safety: immutable; the queue is read by one handler loop.</remarks>
/// <param name="Fresh">True when the node subscribed for its first local member of the group (not again after an outage).</param>
internal readonly record struct GroupChannelSubscription(string GroupId, ChannelMessageQueue Queue, bool Fresh);
