using System.Threading;
using System.Threading.Tasks;

namespace GroupRelay;

/// <summary>
/// Host code told of every message this node accepted into a group's stream, after its <c>seq</c> was assigned: to
/// persist it, index it, notify offline users. Register it with
/// <see cref="GroupRelayBuilderExtensions.AddMessageObserver{TObserver}(IGroupRelayBuilder)"/>.
/// </summary>
/// <remarks>
/// <para>
/// Never in the way of fan-out: accepted messages go into a bounded queue
/// (<see cref="GroupRelayOptions.MessageObserverQueueCapacity"/>, default 10,000) that one background loop drains, calling
/// the observers one message at a time in the order they were added. Messages are observed in the order this node
/// accepted them, which within one group is <c>seq</c> order on one node; with a backplane such as Redis, sends from
/// different connections of one group may complete out of <c>seq</c> order, so order by <see cref="AcceptedMessage.Seq"/>.
/// </para>
/// <para>
/// Nothing is lost silently: an observer that throws is logged (event 22) and counted
/// (<c>grouprelay.observer.failures</c>), and the loop goes on with the next message; a message that finds the queue
/// full (observers slower than the traffic) is not observed, is logged (event 23) and counted
/// (<c>grouprelay.drops{grouprelay.drop.reason="observer_queue_full"}</c>). At shutdown the loop is given until the host's shutdown
/// timeout to drain the queue.
/// </para>
/// <para>
/// Which messages: client <c>send</c>s (after the filters, with the body they let through) and
/// <see cref="IGroupRelay.PublishAsync(string, System.ReadOnlyMemory{byte}, string, CancellationToken)"/>, once each on the
/// node that accepted them, never a repeated idempotency key. With several nodes, each message is observed on one node.
/// </para>
/// </remarks>
public interface IMessageObserver
{
    /// <summary>Observes one accepted message.</summary>
    /// <param name="message">The message; its body is a copy the observer may keep.</param>
    /// <param name="cancellationToken">Cancelled when the host stops and the drain time is over.</param>
    /// <returns>A task that completes when the observer is done with the message.</returns>
    ValueTask OnMessageAcceptedAsync(AcceptedMessage message, CancellationToken cancellationToken);
}
