using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace GroupRelay.Sample;

/// <summary>
/// The sample's <see cref="IMessageObserver"/>: stores every message the relay accepted in the <c>messages</c> table,
/// so the page can load messages the relay no longer retains (<c>GET /api/groups/{group}/messages</c>).
/// </summary>
/// <remarks>Called by the relay's one observer loop, one message at a time; a failure is logged and counted by the relay.</remarks>
public sealed class SampleMessageStore : IMessageObserver
{
    private readonly SampleDatabase _database;

    /// <summary>Creates the store over the sample database.</summary>
    /// <param name="database">The database.</param>
    public SampleMessageStore(SampleDatabase database) => _database = database;

    /// <inheritdoc />
    public async ValueTask OnMessageAcceptedAsync(AcceptedMessage message, CancellationToken cancellationToken)
    {
        System.ArgumentNullException.ThrowIfNull(message);
        await _database.AddMessageAsync(message.GroupId, message.Seq, message.From, Encoding.UTF8.GetString(message.Body.Span), cancellationToken).ConfigureAwait(false);
    }
}
