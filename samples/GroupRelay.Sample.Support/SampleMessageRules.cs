using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;

namespace GroupRelay.Sample;

/// <summary>
/// The sample's <see cref="IMessageFilter"/>: a chat message is <c>{"text": "..."}</c> with 1 to 4,000 characters of
/// text that is not all whitespace; anything else is refused with a reason the page shows.
/// </summary>
/// <remarks>Thread-safe and synchronous (it answers at once, so it costs no timer).</remarks>
public sealed class SampleMessageRules : IMessageFilter
{
    /// <summary>The most characters of text in one message.</summary>
    public const int MaxTextLength = 4000;

    /// <inheritdoc />
    public ValueTask<MessageFilterResult> FilterAsync(MessageFilterContext message, CancellationToken cancellationToken)
    {
        System.ArgumentNullException.ThrowIfNull(message);
        using JsonDocument body = JsonDocument.Parse(message.Body);
        if (body.RootElement.ValueKind != JsonValueKind.Object
            || !body.RootElement.TryGetProperty("text", out JsonElement text)
            || text.ValueKind != JsonValueKind.String)
        {
            return new(MessageFilterResult.Refuse("a message is {\"text\": \"...\"}"));
        }

        string value = text.GetString()!;
        if (string.IsNullOrWhiteSpace(value))
        {
            return new(MessageFilterResult.Refuse("a message needs some text"));
        }

        return new(value.Length > MaxTextLength
            ? MessageFilterResult.Refuse($"a message has at most {MaxTextLength:N0} characters (this one has {value.Length:N0})")
            : MessageFilterResult.Accept);
    }
}
