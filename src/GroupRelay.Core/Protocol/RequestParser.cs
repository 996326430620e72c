using System;
using System.Collections.Generic;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;

namespace GroupRelay.Internal;

/// <summary>
/// Parses one client text frame into a <see cref="RelayRequest"/> with a single forward pass of
/// <see cref="Utf8JsonReader"/>. Fields may come in any order; unknown fields are skipped; the first field error
/// wins but the pass goes on so the error can still repeat the request's <c>id</c>.
/// </summary>
internal sealed class RequestParser
{
    private const int MaxIdChars = 64;
    private readonly GroupRelayOptions _options;
    private readonly JsonReaderOptions _readerOptions;

    /// <summary>Longest epoch a client may send back; the servers' epochs are shorter (PROTOCOL.md section 3).</summary>
    internal const int MaxEpochLength = 64;

    public RequestParser(GroupRelayOptions options)
    {
        _options = options;
        _readerOptions = new JsonReaderOptions { MaxDepth = options.MaxJsonDepth, CommentHandling = JsonCommentHandling.Disallow };
    }

    public ParseResult Parse(ReadOnlyMemory<byte> frame, out RelayRequest request)
    {
        request = new RelayRequest { Echo = true, Limit = 100, After = -1 };
        ReadOnlySpan<byte> span = frame.Span;
        if (!Utf8.IsValid(span))
        {
            return new ParseResult(RelayErrorCodes.BadRequest, "frame is not valid UTF-8", null);
        }

        string? typeName = null;
        bool typeSeen = false;
        string? fieldError = null;
        string? id = null;
        bool hasAfter = false;
        bool hasUsers = false;
        bool hasValue = false;
        bool hasBody = false;
        var reader = new Utf8JsonReader(span, _readerOptions);
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return new ParseResult(RelayErrorCodes.BadRequest, "frame must be a JSON object", null);
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("type"u8))
                {
                    reader.Read();
                    typeSeen = true;
                    typeName = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                    if (typeName is null)
                    {
                        reader.Skip();
                    }
                }
                else if (reader.ValueTextEquals("id"u8))
                {
                    reader.Read();
                    id = null;
                    if (reader.TokenType == JsonTokenType.String)
                    {
                        string value = reader.GetString()!;
                        if (value.Length is >= 1 and <= MaxIdChars)
                        {
                            id = value;
                        }
                        else
                        {
                            fieldError ??= $"field 'id' must be a string of 1 to {MaxIdChars} characters";
                        }
                    }
                    else
                    {
                        reader.Skip();
                        fieldError ??= $"field 'id' must be a string of 1 to {MaxIdChars} characters";
                    }
                }
                else if (reader.ValueTextEquals("group"u8))
                {
                    reader.Read();
                    request.Group = ReadId(ref reader, "group", ref fieldError);
                }
                else if (reader.ValueTextEquals("body"u8))
                {
                    reader.Read();
                    int start = (int)reader.TokenStartIndex;
                    reader.Skip();
                    int end = (int)reader.BytesConsumed;
                    request.Body = frame.Slice(start, end - start);
                    hasBody = true;
                }
                else if (reader.ValueTextEquals("echo"u8))
                {
                    reader.Read();
                    if (reader.TokenType is JsonTokenType.True or JsonTokenType.False)
                    {
                        request.Echo = reader.GetBoolean();
                    }
                    else
                    {
                        reader.Skip();
                        fieldError ??= "field 'echo' must be true or false";
                    }
                }
                else if (reader.ValueTextEquals("users"u8))
                {
                    reader.Read();
                    hasUsers = true;
                    request.Users = ReadUsers(ref reader, ref fieldError);
                }
                else if (reader.ValueTextEquals("value"u8))
                {
                    reader.Read();
                    hasValue = true;
                    if (reader.TokenType == JsonTokenType.Null)
                    {
                        request.StatusValue = null;
                    }
                    else if (reader.TokenType == JsonTokenType.String)
                    {
                        string value = reader.GetString()!;
                        if (value.Length < 1 || value.Length > _options.MaxStatusLength)
                        {
                            fieldError ??= $"field 'value' must be null or a string of 1 to {_options.MaxStatusLength} characters";
                        }

                        request.StatusValue = value;
                    }
                    else
                    {
                        reader.Skip();
                        fieldError ??= $"field 'value' must be null or a string of 1 to {_options.MaxStatusLength} characters";
                    }
                }
                else if (reader.ValueTextEquals("after"u8))
                {
                    reader.Read();
                    hasAfter = true;
                    if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out request.After) || request.After < 0)
                    {
                        reader.Skip();
                        fieldError ??= "field 'after' must be an integer >= 0";
                    }
                }
                else if (reader.ValueTextEquals("epoch"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.String && reader.GetString() is { Length: >= 1 and <= MaxEpochLength } epoch)
                    {
                        request.Epoch = epoch;
                    }
                    else
                    {
                        reader.Skip();
                        fieldError ??= $"field 'epoch' must be a string of 1 to {MaxEpochLength} characters";
                    }
                }
                else if (reader.ValueTextEquals("limit"u8))
                {
                    reader.Read();
                    if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt32(out request.Limit) || request.Limit < 1 || request.Limit > 1000)
                    {
                        reader.Skip();
                        fieldError ??= "field 'limit' must be an integer from 1 to 1000";
                    }
                }
                else
                {
                    // Unknown fields (and the server-owned 'from', 'user', 'seq') are ignored.
                    reader.Read();
                    reader.Skip();
                }
            }

            // The reader only reports trailing content when asked to read past the object.
            if (reader.Read())
            {
                return new ParseResult(RelayErrorCodes.BadRequest, "frame must hold exactly one JSON object", id);
            }
        }
        catch (JsonException)
        {
            return new ParseResult(RelayErrorCodes.BadRequest, DescribeInvalidJson(span, _options.MaxJsonDepth), id);
        }
        catch (InvalidOperationException)
        {
            // GetString() throws this (not JsonException) for an escape that is valid JSON but not valid UTF-16,
            // such as a lone surrogate "\ud800": a bad request, never an exception out of the receive loop.
            return new ParseResult(RelayErrorCodes.BadRequest, "a string field holds an invalid escape (lone surrogate)", id);
        }

        request.Id = id;
        if (!typeSeen)
        {
            return new ParseResult(RelayErrorCodes.UnknownType, "missing field 'type'", id);
        }

        request.Type = typeName switch
        {
            "send" => RequestType.Send,
            "watch" => RequestType.Watch,
            "unwatch" => RequestType.Unwatch,
            "status" => RequestType.Status,
            "members" => RequestType.Members,
            "history" => RequestType.History,
            "ping" => RequestType.Ping,
            _ => RequestType.None,
        };
        if (request.Type == RequestType.None)
        {
            return new ParseResult(RelayErrorCodes.UnknownType, typeName is null ? "field 'type' must be a string" : $"unknown request type '{Truncate(typeName)}'", id);
        }

        if (fieldError is not null)
        {
            return new ParseResult(RelayErrorCodes.BadRequest, fieldError, id);
        }

        string? missing = request.Type switch
        {
            RequestType.Send when request.Group is null => "group",
            RequestType.Send when !hasBody => "body",
            RequestType.Members or RequestType.History when request.Group is null => "group",
            RequestType.History when !hasAfter => "after",
            RequestType.Watch or RequestType.Unwatch when !hasUsers => "users",
            RequestType.Status when !hasValue => "value",
            _ => null,
        };
        if (missing is not null)
        {
            return new ParseResult(RelayErrorCodes.BadRequest, $"missing field '{missing}'", id);
        }

        if (request.Type == RequestType.Send)
        {
            request.BodyIsCompact = JsonCompactor.IsCompact(request.Body.Span);
        }

        return default;
    }

    /// <summary>
    /// Says what is wrong with a frame that <see cref="Utf8JsonReader"/> refused, from the reader's state alone (never
    /// from the wording of its exception, which is not a contract): a second pass reads the frame as if more could
    /// follow (<c>isFinalBlock: false</c>), so a frame that ends too early makes <c>Read</c> return false where a wrong
    /// token makes it throw; nesting is counted here, against <paramref name="maxDepth"/>, with the reader's own limit
    /// lifted. Runs only for a frame that already failed.
    /// </summary>
    internal static string DescribeInvalidJson(ReadOnlySpan<byte> frame, int maxDepth)
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

    private string? ReadId(ref Utf8JsonReader reader, string field, ref string? fieldError)
    {
        if (reader.TokenType == JsonTokenType.String)
        {
            string value = reader.GetString()!;
            if (value.Length >= 1 && value.Length <= _options.MaxIdLength)
            {
                return value;
            }
        }
        else
        {
            reader.Skip();
        }

        fieldError ??= $"field '{field}' must be a string of 1 to {_options.MaxIdLength} characters";
        return null;
    }

    private List<string>? ReadUsers(ref Utf8JsonReader reader, ref string? fieldError)
    {
        string rangeError = $"field 'users' must be an array of 1 to {_options.MaxWatchPerRequest} user ids, each a string of 1 to {_options.MaxIdLength} characters";
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            reader.Skip();
            fieldError ??= rangeError;
            return null;
        }

        var users = new List<string>();
        bool bad = false;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType == JsonTokenType.String)
            {
                string value = reader.GetString()!;
                if (value.Length < 1 || value.Length > _options.MaxIdLength)
                {
                    bad = true;
                }
                else if (users.Count <= _options.MaxWatchPerRequest)
                {
                    users.Add(value);
                }
            }
            else
            {
                reader.Skip();
                bad = true;
            }
        }

        if (bad || users.Count == 0 || users.Count > _options.MaxWatchPerRequest)
        {
            fieldError ??= rangeError;
            return null;
        }

        return users;
    }

    private static string Truncate(string value)
    {
        var builder = new StringBuilder(Math.Min(value.Length, 32));
        foreach (char c in value)
        {
            if (builder.Length == 32)
            {
                builder.Append('…');
                break;
            }

            builder.Append(char.IsControl(c) ? '?' : c);
        }

        return builder.ToString();
    }
}
