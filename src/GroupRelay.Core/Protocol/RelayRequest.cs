using System;
using System.Collections.Generic;

namespace GroupRelay.Internal;

/// <summary>The request types of PROTOCOL.md section 3.</summary>
internal enum RequestType
{
    None = 0,
    Send,
    Watch,
    Unwatch,
    Status,
    Members,
    History,
    Ping,
}

/// <summary>
/// One parsed client request. <see cref="Body"/> points into the transport's receive buffer, so a request is
/// only valid until the dispatcher returns.
/// </summary>
internal struct RelayRequest
{
    public RequestType Type;
    public string? Id;
    public string? Group;
    public ReadOnlyMemory<byte> Body;
    public bool BodyIsCompact;
    public bool Echo;
    public List<string>? Users;
    public string? StatusValue;
    public long After;
    public string? Epoch;
    public int Limit;

    /// <summary>The request's <c>type</c> as on the wire (for span names and logs).</summary>
    public readonly string TypeName => Type switch
    {
        RequestType.Send => "send",
        RequestType.Watch => "watch",
        RequestType.Unwatch => "unwatch",
        RequestType.Status => "status",
        RequestType.Members => "members",
        RequestType.History => "history",
        RequestType.Ping => "ping",
        _ => "none",
    };
}

/// <summary>The outcome of parsing: a request, or the protocol error to send back.</summary>
internal readonly struct ParseResult
{
    public ParseResult(string? errorCode, string? errorMessage, string? id)
    {
        ErrorCode = errorCode;
        ErrorMessage = errorMessage;
        Id = id;
    }

    public string? ErrorCode { get; }

    public string? ErrorMessage { get; }

    /// <summary>The request id, when one was read and valid, so the error can repeat it.</summary>
    public string? Id { get; }

    public bool IsError => ErrorCode is not null;
}
