using System;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Threading.Tasks;
using FluentAssertions;
using GroupRelay.Specification.Tests;
using Xunit;

namespace GroupRelay.Transports.AspNetCore.Tests;

/// <summary><c>MapGroupRelay("/relay")</c> serves the JavaScript client (clients/js) at /relay/client.js and /relay/client.d.ts.</summary>
public sealed class ClientScriptTests
{
    private static readonly TimeSpan Timeout = RelayTestClient.DefaultTimeout;

    [Theory]
    [InlineData("client.js", "text/javascript; charset=utf-8")]
    [InlineData("client.d.ts", "text/plain; charset=utf-8")]
    public async Task ClientFiles_AreServedAsBuiltFromClientsJs_ToAnyone_WithCachingHeaders(string name, string contentType)
    {
        await using var server = new KestrelRelayHarness(requireAuthorization: true);
        await server.StartAsync(_ => { }).WaitAsync(Timeout);
        using var http = new HttpClient { Timeout = Timeout };
        var uri = new Uri(server.HttpUri + "/" + name);

        using HttpResponseMessage response = await http.GetAsync(uri);

        response.StatusCode.Should().Be(HttpStatusCode.OK, "the client is public even where the relay requires authorization");
        response.Content.Headers.ContentType!.ToString().Should().Be(contentType);
        byte[] served = await response.Content.ReadAsByteArrayAsync();
        served.Should().Equal(await File.ReadAllBytesAsync(Path.Combine(RepositoryRoot(), "clients", "js", name)), "the resource is embedded from clients/js at build time");
        response.Content.Headers.ContentLength.Should().Be(served.Length);
        response.Headers.CacheControl!.NoCache.Should().BeTrue();
        response.Headers.GetValues("Access-Control-Allow-Origin").Single().Should().Be("*");
        response.Headers.GetValues("X-Content-Type-Options").Single().Should().Be("nosniff");
        EntityTagHeaderValue etag = response.Headers.ETag!;
        etag.IsWeak.Should().BeFalse();

        using var conditional = new HttpRequestMessage(HttpMethod.Get, uri);
        conditional.Headers.IfNoneMatch.Add(new EntityTagHeaderValue("\"other\""));
        conditional.Headers.IfNoneMatch.Add(etag);
        using HttpResponseMessage notModified = await http.SendAsync(conditional);
        notModified.StatusCode.Should().Be(HttpStatusCode.NotModified);
        (await notModified.Content.ReadAsByteArrayAsync()).Should().BeEmpty();
        notModified.Headers.ETag.Should().Be(etag);

        using var stale = new HttpRequestMessage(HttpMethod.Get, uri);
        stale.Headers.IfNoneMatch.Add(new EntityTagHeaderValue("\"other\""));
        using HttpResponseMessage fresh = await http.SendAsync(stale);
        fresh.StatusCode.Should().Be(HttpStatusCode.OK);

        using HttpResponseMessage head = await http.SendAsync(new HttpRequestMessage(HttpMethod.Head, uri));
        head.StatusCode.Should().Be(HttpStatusCode.OK);
        head.Content.Headers.ContentLength.Should().Be(served.Length);
        head.Headers.ETag.Should().Be(etag);
    }

    [Fact]
    public async Task ServeClientScript_Off_ServesNothing()
    {
        await using var server = new KestrelRelayHarness(o => o.ServeClientScript = false, requireAuthorization: false);
        await server.StartAsync(_ => { }).WaitAsync(Timeout);
        using var http = new HttpClient { Timeout = Timeout };

        using HttpResponseMessage script = await http.GetAsync(new Uri(server.HttpUri + "/client.js"));
        using HttpResponseMessage types = await http.GetAsync(new Uri(server.HttpUri + "/client.d.ts"));

        script.StatusCode.Should().Be(HttpStatusCode.NotFound);
        types.StatusCode.Should().Be(HttpStatusCode.NotFound);
    }

    [Fact]
    public void ServeClientScript_IsOnByDefault()
        => new GroupRelayEndpointOptions().ServeClientScript.Should().BeTrue();

    private static string RepositoryRoot()
    {
        for (DirectoryInfo? directory = new(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "GroupRelay.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("The tests run from inside the repository: no GroupRelay.sln above " + AppContext.BaseDirectory);
    }
}
