using System;
using System.Buffers;
using System.Collections.Generic;
using System.Net.WebSockets;
using System.Text;
using System.Threading;
using System.Threading.Channels;
using System.Threading.Tasks;
using GroupRelay.LoadTest.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace GroupRelay.LoadTest.Servers;

/// <summary>
/// The ceiling: a minimal Kestrel WebSocket server that copies each received frame once and queues the same bytes to a
/// fixed list of sockets. No JSON, no auth, no sequence numbers; only what it needs to be correct: one writer loop per
/// socket (a socket never sees concurrent sends) and list updates under a lock. A connection says who it is and which
/// list it sends to in the query: <c>/ws?user=u3&amp;target=g100</c>.
/// </summary>
internal static class RawServer
{
    private static readonly byte[] Welcome = Encoding.UTF8.GetBytes("{\"type\":\"welcome\"}");

    /// <param name="groupSizes">The fan-out group sizes (for <see cref="BenchMembership"/>).</param>
    /// <param name="coalesce">
    /// False: the ceiling as specified, one WebSocket send per queued frame. True: frames already queued for a socket go
    /// out as one WebSocket frame joined by line feeds (as GroupRelay does), the ceiling for a server that batches.
    /// </param>
    /// <param name="cancellationToken">Cancels the start.</param>
    public static Task<(int Port, Func<Task> Stop)> StartAsync(IReadOnlyList<int> groupSizes, bool coalesce, CancellationToken cancellationToken)
    {
        WebApplicationBuilder builder = KestrelHost.CreateBuilder();
        WebApplication app = builder.Build();
        app.UseWebSockets();
        var lists = new Lists();
        app.Map("/ws", context => HandleAsync(context, lists, groupSizes, coalesce));
        return KestrelHost.StartAsync(app, cancellationToken);
    }

    private static async Task HandleAsync(HttpContext context, Lists lists, IReadOnlyList<int> groupSizes, bool coalesce)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            return;
        }

        string user = context.Request.Query["user"].ToString();
        string target = context.Request.Query["target"].ToString();
        using WebSocket socket = await context.WebSockets.AcceptWebSocketAsync();
        var peer = new Peer(socket, coalesce);
        Task writer = peer.RunWriterAsync();
        IReadOnlyList<string> groups = BenchMembership.GroupsOf(user, groupSizes);
        lists.Add(groups, peer);
        peer.Queue.Writer.TryWrite(Welcome);
        try
        {
            await ReceiveLoopAsync(socket, target.Length == 0 ? Array.Empty<Peer>() : null, lists, target);
        }
        catch (WebSocketException)
        {
        }
        finally
        {
            lists.Remove(groups, peer);
            peer.Queue.Writer.TryComplete();
            await writer;
        }
    }

    // The bench clients' receive loop (idle sockets hold no buffer, as in GroupRelay's transport); one copy per frame,
    // the same bytes to every socket of the list.
    private static Task ReceiveLoopAsync(WebSocket socket, Peer[]? none, Lists lists, string target)
        => WebSocketMessageLoop.RunAsync(
            socket,
            message =>
            {
                byte[] frame = message.ToArray();
                foreach (Peer peer in none ?? lists.Get(target))
                {
                    peer.Queue.Writer.TryWrite(frame);
                }
            },
            static () => { });

    private sealed class Peer
    {
        private const int MaxFrame = 64 * 1024;
        private readonly WebSocket _socket;
        private readonly bool _coalesce;

        public Peer(WebSocket socket, bool coalesce)
        {
            _socket = socket;
            _coalesce = coalesce;
        }

        public Channel<byte[]> Queue { get; } = Channel.CreateUnbounded<byte[]>(new UnboundedChannelOptions { SingleReader = true });

        public async Task RunWriterAsync()
        {
            try
            {
                while (await Queue.Reader.WaitToReadAsync())
                {
                    while (Queue.Reader.TryRead(out byte[]? frame))
                    {
                        if (!_coalesce || !Queue.Reader.TryPeek(out byte[]? next) || frame.Length + 1 + next.Length > MaxFrame)
                        {
                            await _socket.SendAsync(frame, WebSocketMessageType.Text, endOfMessage: true, default);
                            continue;
                        }

                        byte[] buffer = ArrayPool<byte>.Shared.Rent(MaxFrame);
                        frame.CopyTo(buffer, 0);
                        int length = frame.Length;
                        while (Queue.Reader.TryPeek(out next) && length + 1 + next.Length <= MaxFrame && Queue.Reader.TryRead(out next))
                        {
                            buffer[length++] = (byte)'\n';
                            next.CopyTo(buffer, length);
                            length += next.Length;
                        }

                        await _socket.SendAsync(buffer.AsMemory(0, length), WebSocketMessageType.Text, endOfMessage: true, default);
                        ArrayPool<byte>.Shared.Return(buffer);
                    }
                }

                if (_socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
                {
                    await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, string.Empty, default);
                }
            }
            catch (WebSocketException)
            {
            }
            catch (ObjectDisposedException)
            {
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    /// <summary>Group name to an immutable array of peers, replaced under a lock on change.</summary>
    private sealed class Lists
    {
        private readonly Dictionary<string, Peer[]> _lists = new(StringComparer.Ordinal);
        private readonly object _gate = new();

        public Peer[] Get(string group)
        {
            lock (_gate)
            {
                return _lists.TryGetValue(group, out Peer[]? peers) ? peers : Array.Empty<Peer>();
            }
        }

        public void Add(IReadOnlyList<string> groups, Peer peer)
        {
            lock (_gate)
            {
                foreach (string group in groups)
                {
                    Peer[] old = _lists.TryGetValue(group, out Peer[]? peers) ? peers : Array.Empty<Peer>();
                    var updated = new Peer[old.Length + 1];
                    old.CopyTo(updated, 0);
                    updated[^1] = peer;
                    _lists[group] = updated;
                }
            }
        }

        public void Remove(IReadOnlyList<string> groups, Peer peer)
        {
            lock (_gate)
            {
                foreach (string group in groups)
                {
                    if (_lists.TryGetValue(group, out Peer[]? peers))
                    {
                        Peer[] updated = Array.FindAll(peers, p => !ReferenceEquals(p, peer));
                        if (updated.Length == 0)
                        {
                            _lists.Remove(group);
                        }
                        else
                        {
                            _lists[group] = updated;
                        }
                    }
                }
            }
        }
    }
}
