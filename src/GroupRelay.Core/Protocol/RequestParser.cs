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
            return new ParseResult(RelayErrorCodes.BadRequest, InvalidJsonDescriber.Describe(span, _options.MaxJsonDepth), id);
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
