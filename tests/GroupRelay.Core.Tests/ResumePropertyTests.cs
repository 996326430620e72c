using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using CsCheck;
using FluentAssertions;
using GroupRelay.Core.Tests.Infrastructure;
using Xunit;

namespace GroupRelay.Core.Tests;

/// <summary>
/// PROTOCOL.md section 6 as a property (CsCheck): several users send to one group while their connections drop and
/// come back at random; each client resumes as section 6 says (welcome positions, <c>history</c> after the last seq it
/// has, with its epoch, paging while the limit cut the reply; unacknowledged sends again with the same id). At the end
/// every client has every acknowledged message exactly once, each seq names one message, and no retried send was
/// delivered twice.
/// </summary>
public sealed class ResumePropertyTests
{
    private const int Users = 4;

    private enum Op
    {
        Send,
        Drop,
        Reconnect,
    }

    /// <summary>A random schedule: mostly sends, some drops and reconnects, each naming a user.</summary>
    private static readonly Gen<(Op Op, int User)[]> Schedule =
        Gen.Select(Gen.Int[0, 9], Gen.Int[0, Users - 1], (kind, user) => (kind switch { < 7 => Op.Send, < 8 => Op.Drop, _ => Op.Reconnect }, user))
            .Array[100, 300];

    [Fact]
    public Task Resume_RandomDropsAndRetries_EveryClientGetsEveryAcknowledgedMessageOnce()
        => RunAsync(messages: 10_000);

    [Fact]
    [Trait("Category", "Slow")]
    public Task Resume_RandomDropsAndRetries_Slow_OneMillionMessages()
        => RunAsync(messages: 1_000_000);

    // A schedule holds 200 operations on average, 70 % of them sends: about 140 messages an iteration.
    private static async Task RunAsync(int messages)
    {
        int sent = 0;
        await Schedule.SampleAsync(
            async schedule => Interlocked.Add(ref sent, await RunScheduleAsync(schedule)),
            iter: (messages + 139) / 140,
            threads: 1);
        sent.Should().BeGreaterThan(messages * 8 / 10, "the schedules sent about as many messages as asked");
    }

    private static async Task<int> RunScheduleAsync((Op Op, int User)[] schedule)
    {
        await using RelayTestHost host = RelayTestHost.Create(o =>
        {
            o.RateLimitEnabled = false;
            o.HistoryMessagesPerGroup = 100_000; // the property holds within retention; keep everything of one schedule
        });
        var clients = Enumerable.Range(0, Users).Select(i => new ModelClient(host, "u" + i.ToString(CultureInfo.InvariantCulture))).ToArray();
        foreach (ModelClient client in clients)
        {
            host.Group("g", client.User);
        }

        foreach (ModelClient client in clients)
        {
            await client.ConnectAsync();
        }

        int sends = 0;
        foreach ((Op op, int user) in schedule)
        {
            ModelClient client = clients[user];
            switch (op)
            {
                case Op.Send:
                    await client.SendAsync();
                    sends++;
                    break;
                case Op.Drop:
                    await client.DropAsync();
                    break;
                case Op.Reconnect:
                    await client.ConnectAsync();
                    break;
            }
        }

        // Everyone comes back (sending again what was not acknowledged), then catches up with what the others sent.
        foreach (ModelClient client in clients)
        {
            await client.ConnectAsync();
        }

        foreach (ModelClient client in clients)
        {
            await client.SettleAsync();
        }

        long last = clients.Max(c => c.Seen.Count == 0 ? 0 : c.Seen.Keys.Max());
        string[] everyId = clients.SelectMany(c => c.SentIds).ToArray();
        foreach (ModelClient client in clients)
        {
            client.Unacknowledged.Should().BeEmpty($"{client.User} got an ack for every send in the end");
            client.Seen.Keys.Order().Should().Equal(Enumerable.Range(1, (int)last).Select(i => (long)i), $"{client.User} has every seq once, with no gap");
            client.Seen.Values.Select(m => m.Id).Should().BeEquivalentTo(everyId, $"{client.User} has every message once, retries included");
        }

        // One seq names one message on every client.
        for (long seq = 1; seq <= last; seq++)
        {
            clients.Select(c => c.Seen[seq].Id).Distinct().Should().ContainSingle($"seq {seq} names one message");
        }

        return sends;
    }

    /// <summary>A client that resumes as PROTOCOL.md section 6 says.</summary>
    private sealed class ModelClient(RelayTestHost host, string user)
    {
        private readonly List<string> _outbox = new();
        private TestConnection? _connection;
        private int _read;
        private int _next;
        private string? _epoch;

        public string User { get; } = user;

        /// <summary>What the application was handed, by seq.</summary>
        public SortedDictionary<long, (string Id, string Frame)> Seen { get; } = new();

        public List<string> SentIds { get; } = new();

        /// <summary>Sends written but not acknowledged, by id, with their frame.</summary>
        public Dictionary<string, string> Unacknowledged { get; } = new(StringComparer.Ordinal);

        /// <summary>The highest seq up to which the application has everything.</summary>
        private long Contiguous
        {
            get
            {
                long seq = 0;
                while (Seen.ContainsKey(seq + 1))
                {
                    seq++;
                }

                return seq;
            }
        }

        public async Task SendAsync()
        {
            string id = User + "-" + (++_next).ToString(CultureInfo.InvariantCulture);
            string frame = "{\"type\":\"send\",\"id\":\"" + id + "\",\"group\":\"g\",\"body\":{\"id\":\"" + id + "\"}}";
            SentIds.Add(id);
            Unacknowledged[id] = frame;
            if (_connection is null)
            {
                _outbox.Add(id);
                return;
            }

            await _connection.SendAsync(frame);
        }

        public async Task DropAsync()
        {
            if (_connection is null)
            {
                return;
            }

            Read();
            await _connection.DisposeAsync();
            Read();
            _connection = null;
        }

        public async Task ConnectAsync()
        {
            if (_connection is not null)
            {
                return;
            }

            _connection = await host.ConnectAsync(User);
            _read = 0;
            JsonElement welcome = _connection.Socket.OfType("welcome")[0];
            JsonElement position = welcome.GetProperty("positions").GetProperty("g");
            string epoch = position.GetProperty("epoch").GetString()!;
            if (_epoch is not null && _epoch != epoch)
            {
                throw new InvalidOperationException("the epoch changed within one relay process");
            }

            _epoch = epoch;
            Read();

            // History after what the application has, in this epoch, paging while the limit cut the reply.
            while (true)
            {
                long after = Contiguous;
                int before = _connection.Socket.Frames.Count;
                await _connection.SendAsync($$"""{"type":"history","id":"h","group":"g","after":{{after}},"epoch":"{{_epoch}}"}""");
                await _connection.Socket.WaitUntilAsync(s => s.Frames.Skip(before).Any(f => f.Contains("\"type\":\"history\"", StringComparison.Ordinal)), "the history result");
                JsonElement result = Read().Last(f => Json.Type(f) == "history");
                if (result.GetProperty("complete").GetBoolean())
                {
                    break;
                }

                Contiguous.Should().BeGreaterThan(after, "an incomplete page within retention moves forward");
            }

            // Sends written but not acknowledged go again with the same id; the server answers 'duplicate' for those it has.
            foreach ((string _, string frame) in Unacknowledged.ToList())
            {
                await _connection.SendAsync(frame);
            }

            _outbox.Clear();
        }

        public async Task SettleAsync()
        {
            await _connection!.SyncAsync();
            Read();
        }

        /// <summary>Takes the frames that arrived since the last read: messages to the application (once per seq), acks.</summary>
        private List<JsonElement> Read()
        {
            IReadOnlyList<string> frames = _connection!.Socket.Frames;
            var read = new List<JsonElement>();
            for (; _read < frames.Count; _read++)
            {
                JsonElement frame = Json.Parse(frames[_read]);
                read.Add(frame);
                switch (Json.Type(frame))
                {
                    case "message":
                        long seq = Json.Long(frame, "seq");
                        string id = frame.GetProperty("body").GetProperty("id").GetString()!;
                        if (Seen.TryGetValue(seq, out (string Id, string Frame) known))
                        {
                            known.Frame.Should().Be(frames[_read], $"seq {seq} is the same frame however it arrives (live or replayed)");
                        }
                        else
                        {
                            Seen[seq] = (id, frames[_read]);
                        }

                        break;
                    case "ack" when Json.Id(frame) is string acked:
                        Unacknowledged.Remove(acked);
                        break;
                }
            }

            return read;
        }
    }
}
