using System;
using System.Net;
using Fleck;

namespace GroupRelay.Transports.Fleck;

/// <summary>Helpers for <see cref="FleckRelayServerOptions.Authenticate"/>.</summary>
public static class FleckRelayAuthentication
{
    private const string QueryParameter = "access_token";
    private const string BearerPrefix = "Bearer ";

    /// <summary>
    /// Reads the bearer token of a connection: the <c>access_token</c> query parameter (browsers cannot set headers on
    /// a WebSocket), else the <c>Authorization: Bearer</c> header. Returns null when there is none.
    /// </summary>
    /// <param name="connectionInfo">Fleck's connection info, as the authenticator gets it.</param>
    /// <returns>The token, URL-decoded, or null.</returns>
    /// <remarks>The token is a secret: GroupRelay never logs it, and neither should the authenticator.</remarks>
    /// <example>
    /// <code>
    /// o.Authenticate = info =&gt; FleckRelayAuthentication.GetAccessToken(info) is { } token ? tokens.ValidateAndGetUserId(token) : null;
    /// </code>
    /// </example>
    public static string? GetAccessToken(IWebSocketConnectionInfo connectionInfo)
    {
        ArgumentNullException.ThrowIfNull(connectionInfo);
        string? fromQuery = GetQueryValue(connectionInfo.Path, QueryParameter);
        if (!string.IsNullOrEmpty(fromQuery))
        {
            return fromQuery;
        }

        // Fleck's header dictionary is case-insensitive (WebSocketConnectionInfo.Create).
        if (connectionInfo.Headers is { } headers
            && headers.TryGetValue("Authorization", out string? authorization)
            && authorization is not null
            && authorization.StartsWith(BearerPrefix, StringComparison.OrdinalIgnoreCase))
        {
            string token = authorization[BearerPrefix.Length..].Trim();
            return token.Length == 0 ? null : token;
        }

        return null;
    }

    /// <summary>The first value of <paramref name="name"/> in the query of a request target such as <c>/relay?a=1&amp;b=2</c>.</summary>
    internal static string? GetQueryValue(string? pathAndQuery, string name)
    {
        int start = pathAndQuery?.IndexOf('?', StringComparison.Ordinal) ?? -1;
        if (start < 0)
        {
            return null;
        }

        ReadOnlySpan<char> query = pathAndQuery.AsSpan(start + 1);
        int fragment = query.IndexOf('#');
        if (fragment >= 0)
        {
            query = query[..fragment];
        }

        while (!query.IsEmpty)
        {
            int end = query.IndexOf('&');
            ReadOnlySpan<char> pair = end < 0 ? query : query[..end];
            query = end < 0 ? ReadOnlySpan<char>.Empty : query[(end + 1)..];
            int equals = pair.IndexOf('=');
            ReadOnlySpan<char> key = equals < 0 ? pair : pair[..equals];
            if (string.Equals(WebUtility.UrlDecode(key.ToString()), name, StringComparison.Ordinal))
            {
                // Decoded as ASP.NET Core decodes a query ('+' is a space), so both transports see the same token.
                return equals < 0 ? string.Empty : WebUtility.UrlDecode(pair[(equals + 1)..].ToString());
            }
        }

        return null;
    }
}
