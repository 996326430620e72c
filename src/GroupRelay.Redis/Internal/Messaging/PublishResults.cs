using System;
using System.Text.Json;
using StackExchange.Redis;

namespace GroupRelay.Internal;

/// <summary>One message's result in a publish batch.</summary>
/// <param name="Seq">Above 0: the seq it was published with; below 0: a duplicate, the first seq negated; 0 with <paramref name="ConflictingGroup"/>.</param>
/// <param name="ConflictingGroup">The other group its idempotency key went to (not published), or null.</param>
/// <remarks>Thread-safety: immutable.</remarks>
internal readonly record struct MessageResult(long Seq, string? ConflictingGroup);

/// <summary>
/// What the publish script did with a batch (<see cref="RedisScripts.PublishBatch"/>): how many messages it published
/// and one result per message, read from its reply or, for a batch whose reply was lost, from the batch mark that
/// <see cref="RedisScripts.ResolveBatch"/> found (the same results as JSON).
/// </summary>
/// <remarks>Thread-safety: immutable once built.</remarks>
internal sealed class PublishResults
{
    private PublishResults(int published, MessageResult[] messages)
    {
        Published = published;
        Messages = messages;
    }

    public int Published { get; }

    public MessageResult[] Messages { get; }

    /// <summary>The script's reply {epoch, first seq, published, result per message}; null for {'F'} (the batch was fenced: nothing done).</summary>
    public static PublishResults? FromReply(RedisResult[] reply)
    {
        if (reply.Length < 3)
        {
            return null;
        }

        var messages = new MessageResult[reply.Length - 3];
        for (int i = 0; i < messages.Length; i++)
        {
            RedisResult result = reply[3 + i];
            messages[i] = result.Resp2Type == ResultType.Integer ? new MessageResult((long)result, null) : new MessageResult(0, (string)result!);
        }

        return new PublishResults((int)(long)reply[2], messages);
    }

    /// <summary>The same results as the batch mark keeps them (Lua's cjson: <c>["epoch",first,published,r1,...]</c>).</summary>
    public static PublishResults FromJson(string json)
    {
        using JsonDocument document = JsonDocument.Parse(json);
        JsonElement array = document.RootElement;
        int length = array.GetArrayLength();
        if (length < 3)
        {
            throw new FormatException("A batch mark holds fewer than three results.");
        }

        var messages = new MessageResult[length - 3];
        for (int i = 0; i < messages.Length; i++)
        {
            JsonElement result = array[3 + i];
            messages[i] = result.ValueKind == JsonValueKind.Number ? new MessageResult((long)result.GetDouble(), null) : new MessageResult(0, result.GetString());
        }

        return new PublishResults((int)array[2].GetDouble(), messages);
    }
}
