using System;
using System.IO;
using System.Security.Cryptography;
using System.Threading.Tasks;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Headers;
using Microsoft.AspNetCore.Routing;
using Microsoft.Net.Http.Headers;

namespace GroupRelay.Transports.AspNetCore.Internal;

/// <summary>
/// One file of the JavaScript client (clients/js), embedded in this assembly at build time, served at
/// <c>{pattern}/client.js</c> and <c>{pattern}/client.d.ts</c> (<see cref="GroupRelayEndpointOptions.ServeClientScript"/>).
/// </summary>
internal sealed class ClientScriptFile
{
    private static readonly string[] GetAndHead = [HttpMethods.Get, HttpMethods.Head];

    private readonly byte[] _content;
    private readonly string _contentType;
    private readonly EntityTagHeaderValue _etag;

    private ClientScriptFile(string name, byte[] content, string contentType)
    {
        Name = name;
        _content = content;
        _contentType = contentType;

        // A strong validator derived from the content: a new client version gets a new tag, the same bytes keep theirs.
        _etag = new EntityTagHeaderValue("\"" + Convert.ToHexString(SHA256.HashData(content).AsSpan(0, 16)) + "\"");
    }

    /// <summary>The ES module.</summary>
    public static ClientScriptFile Script { get; } = Load("client.js", "text/javascript; charset=utf-8");

    /// <summary>Its TypeScript declarations.</summary>
    public static ClientScriptFile Types { get; } = Load("client.d.ts", "text/plain; charset=utf-8");

    /// <summary>The file name under the relay's path.</summary>
    public string Name { get; }

    /// <summary>The embedded bytes, as served.</summary>
    public ReadOnlyMemory<byte> Content => _content;

    /// <summary>The entity tag the file is served with.</summary>
    public string ETag => _etag.Tag.Value!;

    /// <summary>Maps both files under <paramref name="pattern"/> (the relay's route), for anyone: they hold no secret.</summary>
    public static void Map(IEndpointRouteBuilder endpoints, string pattern)
    {
        string prefix = pattern.TrimEnd('/');
        foreach (ClientScriptFile file in new[] { Script, Types })
        {
            string route = prefix + "/" + file.Name;
            endpoints.MapMethods(route, GetAndHead, file.ServeAsync).AllowAnonymous().WithDisplayName("GroupRelay client " + route);
        }
    }

    public Task ServeAsync(HttpContext context)
    {
        HttpResponse response = context.Response;
        ResponseHeaders headers = response.GetTypedHeaders();
        headers.ETag = _etag;

        // Revalidate on every load (a 304 costs a round trip and no body), so an upgraded relay serves its own client.
        headers.CacheControl = new CacheControlHeaderValue { NoCache = true };

        // A module script from another origin is fetched in CORS mode: a page elsewhere may import it.
        response.Headers.AccessControlAllowOrigin = "*";
        response.Headers.XContentTypeOptions = "nosniff";
        foreach (EntityTagHeaderValue tag in context.Request.GetTypedHeaders().IfNoneMatch)
        {
            if (tag.Equals(EntityTagHeaderValue.Any) || tag.Compare(_etag, useStrongComparison: false))
            {
                response.StatusCode = StatusCodes.Status304NotModified;
                return Task.CompletedTask;
            }
        }

        response.ContentType = _contentType;
        response.ContentLength = _content.Length;
        return HttpMethods.IsHead(context.Request.Method) ? Task.CompletedTask : response.Body.WriteAsync(_content, context.RequestAborted).AsTask();
    }

    private static ClientScriptFile Load(string name, string contentType)
    {
        string resource = "GroupRelay.Client." + name;
        using Stream stream = typeof(ClientScriptFile).Assembly.GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"The resource {resource} is missing from {typeof(ClientScriptFile).Assembly.GetName().Name}: the build embeds clients/js/{name}.");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return new ClientScriptFile(name, copy.ToArray(), contentType);
    }
}
