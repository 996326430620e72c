using System;
using System.Net;

namespace GroupRelay.Client;

/// <summary>The base type of what <see cref="GroupRelayClient"/> throws about the relay (besides argument and state errors).</summary>
public class GroupRelayClientException : Exception
{
    /// <summary>Creates an exception.</summary>
    public GroupRelayClientException()
    {
    }

    /// <summary>Creates an exception with a message.</summary>
    /// <param name="message">What failed.</param>
    public GroupRelayClientException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and a cause.</summary>
    /// <param name="message">What failed.</param>
    /// <param name="innerException">The cause.</param>
    public GroupRelayClientException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>
/// The server answered a request with an <c>error</c> frame (PROTOCOL.md section 4), for example <c>not_member</c> or
/// <c>forbidden</c>. Nothing was delivered.
/// </summary>
public sealed class RelayRequestException : GroupRelayClientException
{
    /// <summary>Creates an exception.</summary>
    public RelayRequestException()
        : this("error", "The server refused the request.")
    {
    }

    /// <summary>Creates an exception with a message and the code <c>error</c>.</summary>
    /// <param name="message">The server's message.</param>
    public RelayRequestException(string message)
        : this("error", message)
    {
    }

    /// <summary>Creates an exception with a message and a cause, and the code <c>error</c>.</summary>
    /// <param name="message">The server's message.</param>
    /// <param name="innerException">The cause.</param>
    public RelayRequestException(string message, Exception? innerException)
        : base(message, innerException)
    {
        Code = "error";
    }

    /// <summary>Creates an exception for an <c>error</c> frame.</summary>
    /// <param name="code">The error code (<c>bad_request</c>, <c>not_member</c>, <c>forbidden</c>, ...).</param>
    /// <param name="message">The server's message.</param>
    public RelayRequestException(string code, string message)
        : base(message)
    {
        ArgumentNullException.ThrowIfNull(code);
        Code = code;
    }

    /// <summary>The error code from PROTOCOL.md section 4: <c>bad_request</c>, <c>unknown_type</c>, <c>not_member</c>, <c>forbidden</c>, <c>internal</c>, ...</summary>
    public string Code { get; }
}

/// <summary>
/// The server refused the client's identity: HTTP 401 or 403 on the WebSocket upgrade, or close code 4003 right after
/// it (PROTOCOL.md sections 2 and 5). The client does not retry by itself.
/// </summary>
public sealed class RelayUnauthorizedException : GroupRelayClientException
{
    /// <summary>Creates an exception.</summary>
    public RelayUnauthorizedException()
        : this("The server refused the client's identity.")
    {
    }

    /// <summary>Creates an exception with a message.</summary>
    /// <param name="message">What was refused.</param>
    public RelayUnauthorizedException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and a cause.</summary>
    /// <param name="message">What was refused.</param>
    /// <param name="innerException">The cause.</param>
    public RelayUnauthorizedException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates an exception for a refusal.</summary>
    /// <param name="message">What was refused.</param>
    /// <param name="httpStatusCode">The HTTP status of the refused upgrade, or null.</param>
    /// <param name="closeCode">The WebSocket close code (4003), or null.</param>
    /// <param name="innerException">The cause, or null.</param>
    public RelayUnauthorizedException(string message, HttpStatusCode? httpStatusCode, int? closeCode, Exception? innerException)
        : base(message, innerException)
    {
        HttpStatusCode = httpStatusCode;
        CloseCode = closeCode;
    }

    /// <summary>The HTTP status of the refused upgrade (401 or 403), or null.</summary>
    public HttpStatusCode? HttpStatusCode { get; }

    /// <summary>The WebSocket close code (4003 on transports that cannot refuse the handshake itself), or null.</summary>
    public int? CloseCode { get; }
}
