using System;
using System.Collections.Generic;
using Fleck;
using FluentAssertions;
using Xunit;

namespace GroupRelay.Transports.Fleck.Tests;

/// <summary>Unit tests of <see cref="FleckRelayAuthentication.GetAccessToken"/>: no server.</summary>
public sealed class FleckRelayAuthenticationTests
{
    [Theory]
    [InlineData("/relay?access_token=alice", null, "alice")]
    [InlineData("/relay?x=1&access_token=a%20b%2Bc&y=2", null, "a b+c")]
    [InlineData("/relay?access_token=a+b", null, "a b")]
    [InlineData("/relay", "Bearer bob", "bob")]
    [InlineData("/relay", "bearer  bob ", "bob")]
    [InlineData("/relay?access_token=alice", "Bearer bob", "alice")]
    [InlineData("/relay?access_token=", "Bearer bob", "bob")]
    [InlineData("/relay?other=alice", "Basic Ym9iOng=", null)]
    [InlineData("/relay", null, null)]
    [InlineData("/relay?access_tokenx=alice", null, null)]
    public void GetAccessToken_ReadsQueryThenBearerHeader(string path, string? authorization, string? expected)
    {
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        if (authorization is not null)
        {
            headers["Authorization"] = authorization;
        }

        FleckRelayAuthentication.GetAccessToken(new Info(path, headers)).Should().Be(expected);
    }

    private sealed class Info(string path, IDictionary<string, string> headers) : IWebSocketConnectionInfo
    {
        public string SubProtocol => string.Empty;
        public string Origin => string.Empty;
        public string Host => "127.0.0.1";
        public string Path => path;
        public string ClientIpAddress => "127.0.0.1";
        public int ClientPort => 1;
        public IDictionary<string, string> Cookies { get; } = new Dictionary<string, string>();
        public IDictionary<string, string> Headers => headers;
        public Guid Id { get; } = Guid.NewGuid();
        public string NegotiatedSubProtocol => string.Empty;
    }
}
