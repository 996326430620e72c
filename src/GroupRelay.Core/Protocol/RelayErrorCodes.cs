namespace GroupRelay;

/// <summary>The <c>code</c> values of <c>error</c> frames (PROTOCOL.md section 4).</summary>
public static class RelayErrorCodes
{
    /// <summary>Not a JSON object, invalid UTF-8 or JSON, binary frame, missing or wrongly typed field, field out of bounds.</summary>
    public const string BadRequest = "bad_request";
    /// <summary><c>type</c> missing or not a known request type.</summary>
    public const string UnknownType = "unknown_type";
    /// <summary>The user is not a member of the group named by the request.</summary>
    public const string NotMember = "not_member";
    /// <summary>The host's policy refuses the request.</summary>
    public const string Forbidden = "forbidden";
    /// <summary>The connection sent faster than its limit; the request was dropped.</summary>
    public const string RateLimited = "rate_limited";
    /// <summary>
    /// The server cannot order the request now (for example its backplane is unreachable); nothing was delivered, and the
    /// client retries later with the same <c>id</c> (PROTOCOL.md section 4).
    /// </summary>
    public const string Unavailable = "unavailable";
    /// <summary>The server failed; the message says nothing about internals.</summary>
    public const string Internal = "internal";
}
