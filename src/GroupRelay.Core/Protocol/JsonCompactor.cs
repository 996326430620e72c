using System;
using System.Buffers;

namespace GroupRelay.Internal;

/// <summary>
/// Removes insignificant whitespace from JSON that a <see cref="System.Text.Json.Utf8JsonReader"/> has already
/// validated. A body that is already compact is copied as is, so most messages are never rewritten.
/// </summary>
internal static class JsonCompactor
{
    private static readonly SearchValues<byte> Whitespace = SearchValues.Create(" \t\r\n"u8);

    public static bool IsCompact(ReadOnlySpan<byte> json)
    {
        // Fast path: no whitespace byte at all (the common case for machine-written JSON).
        if (json.IndexOfAny(Whitespace) < 0)
        {
            return true;
        }

        return CompactLength(json) == json.Length;
    }

    /// <summary>Length of <paramref name="json"/> once whitespace outside strings is removed.</summary>
    public static int CompactLength(ReadOnlySpan<byte> json)
    {
        int length = 0;
        bool inString = false;
        for (int i = 0; i < json.Length; i++)
        {
            byte b = json[i];
            if (inString)
            {
                length++;
                if (b == (byte)'\\')
                {
                    length++;
                    i++;
                }
                else if (b == (byte)'"')
                {
                    inString = false;
                }
            }
            else if (b is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n')
            {
                continue;
            }
            else
            {
                if (b == (byte)'"')
                {
                    inString = true;
                }

                length++;
            }
        }

        return length;
    }

    /// <summary>Writes <paramref name="json"/> without whitespace outside strings; returns the bytes written.</summary>
    public static int Compact(ReadOnlySpan<byte> json, Span<byte> destination)
    {
        int w = 0;
        bool inString = false;
        for (int i = 0; i < json.Length; i++)
        {
            byte b = json[i];
            if (inString)
            {
                destination[w++] = b;
                if (b == (byte)'\\')
                {
                    destination[w++] = json[++i];
                }
                else if (b == (byte)'"')
                {
                    inString = false;
                }
            }
            else if (b is not ((byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n'))
            {
                if (b == (byte)'"')
                {
                    inString = true;
                }

                destination[w++] = b;
            }
        }

        return w;
    }
}
