using System;
using System.Collections.Generic;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;

namespace GroupRelay.Internal;

/// <summary>
/// Says what is wrong with a frame that is not valid JSON (PROTOCOL.md section 4, <c>bad_request</c>): an unterminated
/// object, array or string, an invalid token at byte N, nesting deeper than the limit; from the reader's own state,
/// never from the wording of System.Text.Json's exception messages.
/// </summary>
/// <remarks>Thread-safe: static and stateless.</remarks>
internal static class InvalidJsonDescriber
{
    /// <summary>
    /// Says what is wrong with a frame that <see cref="Utf8JsonReader"/> refused, from the reader's state alone (never
    /// from the wording of its exception, which is not a contract): a second pass reads the frame as if more could
    /// follow (<c>isFinalBlock: false</c>), so a frame that ends too early makes <c>Read</c> return false where a wrong
    /// token makes it throw; nesting is counted here, against <paramref name="maxDepth"/>, with the reader's own limit
    /// lifted. Runs only for a frame that already failed.
    /// </summary>
    internal static string Describe(ReadOnlySpan<byte> frame, int maxDepth)
    {
        var reader = new Utf8JsonReader(
            frame,
            isFinalBlock: false,
            new JsonReaderState(new JsonReaderOptions { MaxDepth = Math.Max(maxDepth, frame.Length) + 1, CommentHandling = JsonCommentHandling.Disallow }));
        var open = new List<bool>(); // true: an object, false: an array, innermost last
        bool rootComplete = false;
        long lastTokenEnd = 0;
        JsonTokenType lastToken = JsonTokenType.None;
        try
        {
            while (true)
            {
                lastTokenEnd = reader.BytesConsumed;
                lastToken = reader.TokenType;
                if (!reader.Read())
                {
                    break;
                }

                switch (reader.TokenType)
                {
                    case JsonTokenType.StartObject:
                    case JsonTokenType.StartArray:
                        // CurrentDepth is the number of containers around this one.
                        if (reader.CurrentDepth >= maxDepth)
                        {
                            return $"JSON nesting deeper than {maxDepth}";
                        }

                        open.Add(reader.TokenType == JsonTokenType.StartObject);
                        break;
                    case JsonTokenType.EndObject:
                    case JsonTokenType.EndArray:
                        open.RemoveAt(open.Count - 1);
                        rootComplete = open.Count == 0;
                        break;
                    case JsonTokenType.PropertyName:
                        break;
                    default:
                        rootComplete |= open.Count == 0;
                        break;
                }
            }
        }
        catch (JsonException)
        {
            return rootComplete
                ? "frame must hold exactly one JSON object"
                : $"invalid JSON token at byte {NextTokenStart(frame, lastTokenEnd, lastToken)}";
        }

        // Read returned false: the frame ended before the JSON did.
        int next = NextTokenStart(frame, lastTokenEnd, lastToken);
        if (next < frame.Length && frame[next] == (byte)'"' && !IsTerminatedString(frame, next))
        {
            return $"unterminated string starting at byte {next}";
        }

        if (open.Count > 0)
        {
            return open[^1]
                ? "unterminated object: the frame ends before its closing '}'"
                : "unterminated array: the frame ends before its closing ']'";
        }

        return next >= frame.Length && !rootComplete
            ? "frame is empty; it must be a JSON object"
            : $"invalid JSON at byte {lastTokenEnd}";
    }

    private static bool IsTerminatedString(ReadOnlySpan<byte> frame, int quote)
    {
        for (int i = quote + 1; i < frame.Length; i++)
        {
            if (frame[i] == (byte)'\\')
            {
                i++;
            }
            else if (frame[i] == (byte)'"')
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Where the token after <paramref name="position"/> starts: past whitespace and the one separator the grammar
    /// expects after <paramref name="previous"/> (':' after a property name, ',' after a value).
    /// </summary>
    private static int NextTokenStart(ReadOnlySpan<byte> frame, long position, JsonTokenType previous)
    {
        int i = SkipWhitespace(frame, (int)position);
        byte separator = previous switch
        {
            JsonTokenType.None or JsonTokenType.StartObject or JsonTokenType.StartArray => 0,
            JsonTokenType.PropertyName => (byte)':',
            _ => (byte)',',
        };
        if (separator != 0 && i < frame.Length && frame[i] == separator)
        {
            i = SkipWhitespace(frame, i + 1);
        }

        return i;
    }

    private static int SkipWhitespace(ReadOnlySpan<byte> frame, int i)
    {
        while (i < frame.Length && frame[i] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n')
        {
            i++;
        }

        return i;
    }
}
