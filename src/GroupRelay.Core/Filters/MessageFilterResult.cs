using System;
using System.Text.Json;
using GroupRelay.Internal;

namespace GroupRelay;

/// <summary>What an <see cref="IMessageFilter"/> decided about one <c>send</c>: accept, replace the body, or refuse.</summary>
/// <remarks>Immutable; <see cref="Accept"/> is one shared instance, so letting a message through allocates nothing.</remarks>
public sealed class MessageFilterResult
{
    private MessageFilterResult(ReadOnlyMemory<byte>? replacement, string? refusal)
    {
        Replacement = replacement;
        Refusal = refusal;
    }

    /// <summary>Lets the message through unchanged (to the next filter, then to the group).</summary>
    public static MessageFilterResult Accept { get; } = new(null, null);

    /// <summary>The body that replaces the client's, or null when the body is unchanged.</summary>
    public ReadOnlyMemory<byte>? Replacement { get; }

    /// <summary>The reason the message was refused (sent to the client as the <c>forbidden</c> error's message), or null.</summary>
    public string? Refusal { get; }

    /// <summary>Lets the message through with another body.</summary>
    /// <param name="utf8Json">
    /// Exactly one JSON value in UTF-8 (any type, as the <c>body</c> of <c>send</c>); whitespace is removed before it is
    /// sent, as PROTOCOL.md section 3 says for every body. The bytes are used after this call returns: do not reuse them.
    /// </param>
    /// <returns>The result.</returns>
    /// <exception cref="ArgumentException"><paramref name="utf8Json"/> is not exactly one valid JSON value.</exception>
    public static MessageFilterResult Replace(ReadOnlyMemory<byte> utf8Json)
    {
        // The depth bound of the parser (64 by default) holds for a replacement too: it is delivered like any body.
        JsonBody.ThrowIfNotOneValue(utf8Json.Span, maxDepth: 64, nameof(utf8Json));
        return new MessageFilterResult(utf8Json, null);
    }

    /// <summary>Lets the message through with another body.</summary>
    /// <param name="body">The new body, any JSON value.</param>
    /// <returns>The result.</returns>
    public static MessageFilterResult Replace(JsonElement body) => new(JsonSerializer.SerializeToUtf8Bytes(body), null);

    /// <summary>Refuses the message: nothing is delivered and the sender gets <c>error</c> <c>forbidden</c> with this reason.</summary>
    /// <param name="reason">Why, for the sender (it is sent as is; say nothing you would not show the user). 1 to 1,000 characters.</param>
    /// <returns>The result.</returns>
    /// <exception cref="ArgumentException"><paramref name="reason"/> is empty or longer than 1,000 characters.</exception>
    public static MessageFilterResult Refuse(string reason)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);
        if (reason.Length > 1000)
        {
            throw new ArgumentException("The reason is longer than 1,000 characters.", nameof(reason));
        }

        return new MessageFilterResult(null, reason);
    }
}
