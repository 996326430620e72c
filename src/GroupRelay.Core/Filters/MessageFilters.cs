using System;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;

namespace GroupRelay.Internal;

/// <summary>
/// Runs the host's <see cref="IMessageFilter"/>s, in the order they were added, on one client <c>send</c>: each sees
/// the body the one before let through; the first refusal ends the chain.
/// </summary>
/// <remarks>Thread-safety: stateless after construction; called concurrently for different connections.</remarks>
internal sealed class MessageFilters
{
    private readonly IMessageFilter[] _filters;
    private readonly TimeSpan _timeout;
    private readonly ILogger _logger;

    public MessageFilters(IMessageFilter[] filters, GroupRelayOptions options, ILogger logger)
    {
        _filters = filters;
        _timeout = options.MessageFilterTimeout;
        _logger = logger;
    }

    /// <summary>False when the host registered no filter: the send path then skips this class altogether.</summary>
    public bool Any => _filters.Length > 0;

    /// <summary>
    /// The filters' verdict on a <c>send</c>: the body to publish (and whether it is compact), or the refusal's reason.
    /// </summary>
    /// <exception cref="MessageFilterException">A filter threw, returned null, or did not answer within the timeout.</exception>
    public async ValueTask<Verdict> RunAsync(RelayConnection connection, string groupId, ReadOnlyMemory<byte> body, bool bodyIsCompact, string? idempotencyKey, CancellationToken cancellationToken)
    {
        var context = new MessageFilterContext(connection.UserId, connection.ConnectionId, groupId, body, idempotencyKey);
        foreach (IMessageFilter filter in _filters)
        {
            MessageFilterResult result = await CallAsync(filter, context, cancellationToken).ConfigureAwait(false);
            if (result.Refusal is string reason)
            {
                return new Verdict(default, false, reason);
            }

            if (result.Replacement is ReadOnlyMemory<byte> replacement)
            {
                context.Body = replacement;
                bodyIsCompact = JsonCompactor.IsCompact(replacement.Span);
            }
        }

        return new Verdict(context.Body, bodyIsCompact, null);
    }

    private async ValueTask<MessageFilterResult> CallAsync(IMessageFilter filter, MessageFilterContext context, CancellationToken cancellationToken)
    {
        // One linked token source per call (about 200 B and a timer entry, paid only by hosts that register filters):
        // the filter's token must be cancelled at the timeout, and it is handed over before anyone knows whether the
        // filter will answer at once. The relay also stops waiting at the timeout when the filter ignores its token.
        ValueTask<MessageFilterResult> pending;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(_timeout);
        try
        {
            pending = filter.FilterAsync(context, deadline.Token);
            MessageFilterResult? result = pending.IsCompletedSuccessfully
                ? pending.Result
                : await pending.AsTask().WaitAsync(deadline.Token).ConfigureAwait(false);
            return result ?? throw new MessageFilterException($"The message filter {filter.GetType().Name} returned null; return MessageFilterResult.Accept to let a message through.", null);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new MessageFilterException($"The message filter {filter.GetType().Name} did not answer within MessageFilterTimeout ({_timeout}).", null);
        }
        catch (Exception ex) when (ex is not OperationCanceledException and not MessageFilterException)
        {
            throw new MessageFilterException($"The message filter {filter.GetType().Name} threw.", ex);
        }
    }

    /// <summary>The body to publish (and whether it is compact), or why it was refused.</summary>
    internal readonly record struct Verdict(ReadOnlyMemory<byte> Body, bool BodyIsCompact, string? Refusal);
}

/// <summary>A message filter failed (thrown by <see cref="MessageFilters"/>, caught by the dispatcher: <c>internal</c> to the client).</summary>
internal sealed class MessageFilterException : Exception
{
    public MessageFilterException(string message, Exception? inner)
        : base(message, inner)
    {
    }
}
