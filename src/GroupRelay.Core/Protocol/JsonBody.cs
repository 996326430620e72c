using System;
using System.Text.Json;

namespace GroupRelay.Internal;

/// <summary>Checks that bytes a host hands over as a message body are exactly one JSON value (PROTOCOL.md section 3, <c>send</c>).</summary>
internal static class JsonBody
{
    /// <summary>Throws unless <paramref name="utf8Json"/> is exactly one valid JSON value no deeper than <paramref name="maxDepth"/>.</summary>
    /// <exception cref="ArgumentException">Empty, more than one value, or not valid JSON; the message says which.</exception>
    public static void ThrowIfNotOneValue(ReadOnlySpan<byte> utf8Json, int maxDepth, string paramName)
    {
        try
        {
            var reader = new Utf8JsonReader(utf8Json, new JsonReaderOptions { MaxDepth = maxDepth });
            if (!reader.Read())
            {
                throw new ArgumentException("The body is empty; it must be exactly one JSON value.", paramName);
            }

            reader.Skip();
            if (reader.Read())
            {
                throw new ArgumentException("The body must be exactly one JSON value; more follows it.", paramName);
            }
        }
        catch (JsonException ex)
        {
            throw new ArgumentException("The body is not valid JSON: " + ex.Message, paramName, ex);
        }
    }
}
