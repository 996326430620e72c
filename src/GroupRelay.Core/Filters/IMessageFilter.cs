using System.Threading;
using System.Threading.Tasks;

namespace GroupRelay;

/// <summary>
/// Host code that sees every client <c>send</c> before the message gets its <c>seq</c>, and lets it through, replaces
/// its body, or refuses it (PROTOCOL.md section 4, <c>forbidden</c>). Register it with
/// <see cref="GroupRelayBuilderExtensions.AddMessageFilter{TFilter}(IGroupRelayBuilder)"/>; several filters run in the
/// order they were added, each seeing the body the one before it let through.
/// </summary>
/// <remarks>
/// <para>
/// When it runs: after the membership check (a sender who is not in the group gets <c>not_member</c> and no filter
/// runs), before the stream owner assigns the <c>seq</c>, on the connection's receive loop. A connection's next frame
/// is read only once its filters answered, so one connection's messages keep their order; different connections are
/// filtered in parallel. Messages the server publishes with <see cref="IGroupRelay.PublishAsync(string, System.ReadOnlyMemory{byte}, string, CancellationToken)"/>
/// are not filtered.
/// </para>
/// <para>
/// Time: each call has <see cref="GroupRelayOptions.MessageFilterTimeout"/> (default 5 s); the token is cancelled then
/// (and when the connection closes). A filter that throws or does not answer in time makes the sender get
/// <c>internal</c> (without details), a log line (event 21) and <c>grouprelay.request.errors{error.type="internal"}</c>;
/// nothing is delivered. A filter that blocks its thread blocks that connection's receive loop: do I/O asynchronously.
/// </para>
/// <para>
/// A retried <c>send</c> (the same <c>id</c>) is filtered again before the stream owner recognises the repeat; when the
/// first was accepted, the answer is the first one's <c>ack</c> with <c>"duplicate":true</c> whatever the filter returns
/// for the body, and nothing is delivered twice.
/// </para>
/// <para>Thread-safety: a filter is a singleton called concurrently for different connections.</para>
/// </remarks>
public interface IMessageFilter
{
    /// <summary>Decides what happens to one client <c>send</c>.</summary>
    /// <param name="message">The sender, its connection, the group and the body (UTF-8 JSON).</param>
    /// <param name="cancellationToken">Cancelled at <see cref="GroupRelayOptions.MessageFilterTimeout"/> or when the connection closes.</param>
    /// <returns>
    /// <see cref="MessageFilterResult.Accept"/>, <see cref="MessageFilterResult.Replace(System.ReadOnlyMemory{byte})"/>
    /// or <see cref="MessageFilterResult.Refuse(string)"/>.
    /// </returns>
    ValueTask<MessageFilterResult> FilterAsync(MessageFilterContext message, CancellationToken cancellationToken);
}
