using System;
using System.Collections.Generic;
using System.IO;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;

namespace GroupRelay.Sample;

/// <summary>
/// The Fleck sample's HTTP side: the JavaScript client (clients/js, embedded at build time) at
/// <c>/relay/client.js</c> and <c>/relay/client.d.ts</c> on a port of its own (Fleck answers WebSocket handshakes only),
/// with the headers the ASP.NET Core endpoint serves it with: <c>ETag</c> (304 for a matching
/// <c>If-None-Match</c>), <c>Cache-Control: no-cache</c> and <c>Access-Control-Allow-Origin: *</c>.
/// </summary>
/// <remarks>
/// A small HTTP/1.1 responder on a <see cref="TcpListener"/>: GET and HEAD of those two paths, one request per
/// connection (<c>Connection: close</c>), a request head of at most 8 KiB read within 5 s. Anything else is 404 (or 405
/// for another method on those paths).
/// </remarks>
internal sealed class ClientScriptServer : IAsyncDisposable
{
    private const int MaxRequestHead = 8 * 1024;
    private static readonly TimeSpan ReadTimeout = TimeSpan.FromSeconds(5);
    private static readonly Dictionary<string, ServedFile> Files = new(StringComparer.Ordinal)
    {
        [FleckSampleHost.RelayPath + "/client.js"] = ServedFile.Load("client.js", "text/javascript; charset=utf-8"),
        [FleckSampleHost.RelayPath + "/client.d.ts"] = ServedFile.Load("client.d.ts", "text/plain; charset=utf-8"),
    };

    private readonly TcpListener _listener;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;

    private ClientScriptServer(TcpListener listener, ILogger logger)
    {
        _listener = listener;
        _logger = logger;
        _accepting = AcceptAsync();
    }

    /// <summary>The port it listens on, on 127.0.0.1 (the real one when 0 was asked for).</summary>
    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Where the client is served, for example <c>http://127.0.0.1:8180/relay/client.js</c>.</summary>
    public Uri ScriptUri => new($"http://127.0.0.1:{Port}{FleckSampleHost.RelayPath}/client.js");

    /// <summary>Listens on 127.0.0.1:<paramref name="port"/> (0: a free port).</summary>
    /// <exception cref="SocketException">The port cannot be bound.</exception>
    public static ClientScriptServer Start(int port, ILogger logger)
    {
        var listener = new TcpListener(IPAddress.Loopback, port);
        listener.Start();
        return new ClientScriptServer(listener, logger);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _listener.Stop();
        await _accepting.ConfigureAwait(false);
        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using (client)
        {
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                timeout.CancelAfter(ReadTimeout);
                NetworkStream stream = client.GetStream();
                string? head = await ReadHeadAsync(stream, timeout.Token).ConfigureAwait(false);
                byte[] response = head is null ? Status(400, "Bad Request") : Respond(head);
                await stream.WriteAsync(response, timeout.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException)
            {
                FleckSampleLog.ClientScriptRequestFailed(_logger, ex.Message);
            }
        }
    }

    /// <summary>The request line and headers, or null when they are not there (too long, or the peer went away).</summary>
    private static async Task<string?> ReadHeadAsync(NetworkStream stream, CancellationToken cancellationToken)
    {
        byte[] buffer = new byte[MaxRequestHead];
        int length = 0;
        while (length < buffer.Length)
        {
            int read = await stream.ReadAsync(buffer.AsMemory(length), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                return null;
            }

            length += read;
            int end = buffer.AsSpan(0, length).IndexOf("\r\n\r\n"u8);
            if (end >= 0)
            {
                return Encoding.ASCII.GetString(buffer, 0, end);
            }
        }

        return null;
    }

    private static byte[] Respond(string head)
    {
        string[] lines = head.Split("\r\n");
        string[] requestLine = lines[0].Split(' ');
        if (requestLine.Length != 3 || !requestLine[2].StartsWith("HTTP/1.", StringComparison.Ordinal))
        {
            return Status(400, "Bad Request");
        }

        string method = requestLine[0];
        string path = requestLine[1].Split('?', 2)[0];
        if (!Files.TryGetValue(path, out ServedFile? file))
        {
            return Status(404, "Not Found");
        }

        if (method is not ("GET" or "HEAD"))
        {
            return Status(405, "Method Not Allowed", "Allow: GET, HEAD\r\n");
        }

        string? ifNoneMatch = null;
        foreach (string line in lines.AsSpan(1))
        {
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0 && line.AsSpan(0, colon).Trim().Equals("If-None-Match", StringComparison.OrdinalIgnoreCase))
            {
                ifNoneMatch = line[(colon + 1)..].Trim();
            }
        }

        return file.Response(notModified: ifNoneMatch is not null && Matches(ifNoneMatch, file.ETag), head: method == "HEAD");
    }

    private static bool Matches(string ifNoneMatch, string etag)
    {
        foreach (string tag in ifNoneMatch.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (tag == "*" || (tag.StartsWith("W/", StringComparison.Ordinal) ? tag[2..] : tag) == etag)
            {
                return true;
            }
        }

        return false;
    }

    private static byte[] Status(int code, string reason, string extraHeaders = "")
        => Encoding.ASCII.GetBytes($"HTTP/1.1 {code} {reason}\r\nContent-Length: 0\r\n{extraHeaders}Connection: close\r\n\r\n");

    private sealed class ServedFile(byte[] content, string contentType)
    {
        public string ETag { get; } = "\"" + Convert.ToHexString(SHA256.HashData(content).AsSpan(0, 16)) + "\"";

        public static ServedFile Load(string name, string contentType)
        {
            string resource = "GroupRelay.Client." + name;
            using Stream stream = typeof(ClientScriptServer).Assembly.GetManifestResourceStream(resource)
                ?? throw new InvalidOperationException($"The resource {resource} is missing: the build embeds clients/js/{name}.");
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            return new ServedFile(copy.ToArray(), contentType);
        }

        public byte[] Response(bool notModified, bool head)
        {
            string status = notModified ? "304 Not Modified" : "200 OK";
            string entity = notModified ? string.Empty : $"Content-Type: {contentType}\r\nContent-Length: {content.Length}\r\n";
            byte[] headers = Encoding.ASCII.GetBytes(
                $"HTTP/1.1 {status}\r\n{entity}ETag: {ETag}\r\nCache-Control: no-cache\r\nAccess-Control-Allow-Origin: *\r\n" +
                "X-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n");
            return notModified || head ? headers : [.. headers, .. content];
        }
    }
}
