using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using GroupRelay.LoadTest.Servers;

namespace GroupRelay.LoadTest.Client;

/// <summary>
/// The client process: runs one scenario against one server and reports to the orchestrator on stdout
/// (<c>PROGRESS</c>, <c>RESULT {json}</c>, <c>STATS?</c> to ask for the server's memory, answered on stdin).
/// </summary>
internal sealed class ClientRunner
{
    private readonly ClientSettings _settings;
    private readonly DeliverySink _sink = new();
    private bool _jitWarm;
    private readonly Process? _server;
    private readonly Process? _server2;

    public ClientRunner(ClientSettings settings)
    {
        _settings = settings;
        _server = settings.ServerPid > 0 ? Process.GetProcessById(settings.ServerPid) : null;
        _server2 = settings.Server2Pid > 0 ? Process.GetProcessById(settings.Server2Pid) : null;
    }

    public async Task<int> RunAsync()
    {
        using var deadline = new CancellationTokenSource(_settings.Deadline);
        try
        {
            switch (_settings.Scenario)
            {
                case "fanout":
                    await FanoutAsync(deadline.Token);
                    break;
                case "latency":
                    await LatencyAsync(deadline.Token);
                    break;
                case "idle":
                    await IdleAsync(deadline.Token);
                    break;
                case "connect":
                    await ConnectScenarioAsync(deadline.Token);
                    break;
                default:
                    throw new ArgumentException("unknown scenario " + _settings.Scenario);
            }

            return 0;
        }
        catch (Exception ex)
        {
            Console.Out.WriteLine("ERROR " + ex.GetType().Name + ": " + ex.Message.ReplaceLineEndings(" "));
            return 1;
        }
    }

    /// <summary>
    /// Two nodes (grouprelay-redis): senders (a target group) on node A, receivers alternating B, A, B, ... by index,
    /// so half the receivers, and most deliveries, are across Redis from the sender.
    /// </summary>
    private Uri WsBaseFor(string user, string? target)
    {
        if (_settings.Port2 <= 0 || target is not null)
        {
            return _settings.WsBaseUri;
        }

        bool even = user.Length > 1 && int.TryParse(user.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out int i) && i % 2 == 0;
        return even ? new Uri("ws://127.0.0.1:" + _settings.Port2.ToString(CultureInfo.InvariantCulture)) : _settings.WsBaseUri;
    }

    // A baseline system is the same system in the other build, grouprelay-noretention the same server with one option
    // changed: the same connection as the system they run as.
    private IBenchConnection Create(string user, string? target) => SystemNames.RunsAs(_settings.System) switch
    {
        SystemNames.GroupRelayRedis => new WebSocketBenchConnection(new Uri(WsBaseFor(user, target), "/relay?access_token=" + user), raw: false, _sink),
        SystemNames.SignalR => new SignalRBenchConnection(new Uri(_settings.BaseUri, "/hub"), user, _sink),
        SystemNames.SignalRLite => new SignalRLiteConnection(new Uri(_settings.WsBaseUri, "/hub"), user, _sink),
        SystemNames.Raw or SystemNames.RawCoalescing => new WebSocketBenchConnection(new Uri(_settings.WsBaseUri, "/ws?user=" + user + "&target=" + target), raw: true, _sink),
        _ => new WebSocketBenchConnection(new Uri(_settings.WsBaseUri, "/relay?access_token=" + user), raw: false, _sink),
    };

    private async Task<List<IBenchConnection>> ConnectManyAsync(string[] users, string? target, CancellationToken cancellationToken)
    {
        var connections = new IBenchConnection[users.Length];
        using var gate = new SemaphoreSlim(_settings.ConnectConcurrency);
        var tasks = new List<Task>(users.Length);
        for (int i = 0; i < users.Length; i++)
        {
            await gate.WaitAsync(cancellationToken);
            int index = i;
            tasks.Add(Task.Run(async () =>
            {
                try
                {
                    IBenchConnection connection = Create(users[index], target);
                    connections[index] = connection;
                    using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                    timeout.CancelAfter(TimeSpan.FromSeconds(30));
                    await connection.ConnectAsync(timeout.Token);
                }
                finally
                {
                    gate.Release();
                }
            }, CancellationToken.None));
        }

        await Task.WhenAll(tasks);
        return connections.ToList();
    }

    private static async Task DisposeAllAsync(IEnumerable<IBenchConnection> connections)
    {
        await Task.WhenAll(connections.Where(c => c is not null).Select(c => c.DisposeAsync().AsTask()))
            .WaitAsync(TimeSpan.FromSeconds(30)).ContinueWith(_ => { }, TaskScheduler.Default);
    }

    private TimeSpan ServerCpu()
    {
        if (_server is null)
        {
            return TimeSpan.Zero;
        }

        _server.Refresh();
        if (_server.HasExited)
        {
            throw new InvalidOperationException($"the server process {_settings.ServerPid} has exited");
        }

        return _server.TotalProcessorTime;
    }

    private TimeSpan Server2Cpu()
    {
        if (_server2 is null)
        {
            return TimeSpan.Zero;
        }

        _server2.Refresh();
        if (_server2.HasExited)
        {
            throw new InvalidOperationException($"the second server process {_settings.Server2Pid} has exited");
        }

        return _server2.TotalProcessorTime;
    }

    /// <summary>
    /// The redis-server's CPU time: utime + stime from /proc/PID/stat (fields 14 and 15, in clock ticks of
    /// USER_HZ = 100 per second on Linux); zero without a Redis process or without /proc.
    /// </summary>
    private TimeSpan RedisCpu()
    {
        if (_settings.RedisPid <= 0)
        {
            return TimeSpan.Zero;
        }

        try
        {
            string stat = System.IO.File.ReadAllText("/proc/" + _settings.RedisPid.ToString(CultureInfo.InvariantCulture) + "/stat");
            // The command name (field 2) is in parentheses and may contain spaces: count fields after the last ')'.
            string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            long ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            return TimeSpan.FromSeconds(ticks / 100.0);
        }
        catch (System.IO.IOException)
        {
            throw new InvalidOperationException($"the redis-server process {_settings.RedisPid} has exited");
        }
    }

    private static TimeSpan ClientCpu()
    {
        using Process self = Process.GetCurrentProcess();
        return self.TotalProcessorTime;
    }

    private static void Progress(string text)
    {
        Console.Out.WriteLine("PROGRESS " + text);
        Console.Out.Flush();
    }

    private static void Report(ResultRow row)
    {
        Console.Out.WriteLine("RESULT " + JsonSerializer.Serialize(row));
        Console.Out.Flush();
    }

    private static string[] Users(char prefix, int from, int count)
        => Enumerable.Range(from, count).Select(i => prefix + i.ToString(CultureInfo.InvariantCulture)).ToArray();

    private async Task FanoutAsync(CancellationToken cancellationToken)
    {
        Progress($"connecting {_settings.Connections} receivers");
        List<IBenchConnection> receivers = await ConnectManyAsync(Users('u', 0, _settings.Connections), null, cancellationToken);
        foreach (int size in _settings.Sizes)
        {
            string group = BenchMembership.GroupName(size);
            int senderCount = Math.Min(size, _settings.Senders);
            List<IBenchConnection> senders = await ConnectManyAsync(Users('u', 0, senderCount), group, cancellationToken);

            // Every sender connection is a member too (it gets its echo): each message goes to size + senders connections.
            int fan = size + senderCount;
            int window = Math.Clamp(50_000 / fan, 16, 256);
            _sink.Reset();
            _sink.MeasureLatency = false;
            long sent = 0;
            bool stop = false;
            TimeSpan warmup = NextWarmup();
            Progress($"group {size}: {senderCount} senders, window {window} messages, warm-up {warmup.TotalSeconds:0.#} s");
            Task[] loops = senders.Select(sender => Task.Run(async () =>
            {
                while (!Volatile.Read(ref stop))
                {
                    while (!Volatile.Read(ref stop))
                    {
                        long received = _sink.Received;
                        if (Interlocked.Read(ref sent) - (received / fan) < window)
                        {
                            break;
                        }

                        await _sink.WaitForProgressAsync(received, TimeSpan.FromMilliseconds(100));
                    }

                    if (Volatile.Read(ref stop))
                    {
                        break;
                    }

                    long n = Interlocked.Increment(ref sent);
                    await sender.SendAsync(group, Stopwatch.GetTimestamp(), n);
                }
            }, CancellationToken.None)).ToArray();

            await Task.Delay(warmup, cancellationToken);
            long received0 = _sink.Received;
            TimeSpan server0 = ServerCpu(), node2Cpu0 = Server2Cpu(), redis0 = RedisCpu(), client0 = ClientCpu();
            long t0 = Stopwatch.GetTimestamp();
            Progress($"group {size}: measuring {_settings.Duration.TotalSeconds:0.#} s");
            await Task.Delay(_settings.Duration, cancellationToken);
            long received1 = _sink.Received;
            TimeSpan server1 = ServerCpu(), node2Cpu1 = Server2Cpu(), redis1 = RedisCpu(), client1 = ClientCpu();
            double seconds = Stopwatch.GetElapsedTime(t0).TotalSeconds;
            Volatile.Write(ref stop, true);
            await Task.WhenAll(loops).WaitAsync(TimeSpan.FromSeconds(30), cancellationToken);

            long expected = Interlocked.Read(ref sent) * fan;
            await DrainAsync(expected, cancellationToken);
            long lost = Math.Max(0, expected - _sink.Received);
            double deliveries = received1 - received0;
            double nodeACpu = (server1 - server0).TotalSeconds;
            double nodeBCpu = (node2Cpu1 - node2Cpu0).TotalSeconds;
            double redisCpu = (redis1 - redis0).TotalSeconds;
            // Two nodes: "server" is everything on the server core (both nodes and Redis).
            double serverCpu = nodeACpu + nodeBCpu + redisCpu;
            var extra = new Dictionary<string, double>
            {
                ["serverCpuPct"] = 100 * serverCpu / seconds,
                ["clientCpuPct"] = 100 * (client1 - client0).TotalSeconds / seconds,
                ["messagesPerSec"] = deliveries / fan / seconds,
                ["fan"] = fan,
                ["duplicates"] = Math.Max(0, _sink.Received - expected),
                ["connectionsLost"] = _sink.ConnectionsLost,
            };
            AddLostReasons(extra, _sink.LostByReason(), null);
            if (_settings.Port2 > 0)
            {
                extra["nodeACpuPct"] = 100 * nodeACpu / seconds;
                extra["nodeBCpuPct"] = 100 * nodeBCpu / seconds;
                extra["redisCpuPct"] = 100 * redisCpu / seconds;
            }

            Report(new ResultRow
            {
                System = _settings.System,
                Scenario = "fanout",
                GroupSize = size,
                DeliveriesPerSec = deliveries / seconds,
                DeliveriesPerCpuSec = serverCpu > 0 ? deliveries / serverCpu : null,
                Lost = lost,
                Extra = extra,
            });
            await DisposeAllAsync(senders);
        }

        await DisposeAllAsync(receivers);
    }

    private async Task DrainAsync(long expected, CancellationToken cancellationToken)
    {
        long start = Stopwatch.GetTimestamp();
        while (_sink.Received < expected && Stopwatch.GetElapsedTime(start) < _settings.Drain)
        {
            await Task.Delay(20, cancellationToken);
        }
    }

    private async Task LatencyAsync(CancellationToken cancellationToken)
    {
        foreach (int size in _settings.Sizes)
        {
            // Fresh receivers per size: a connection the server closed in one run (slow consumer) must not count as
            // lost deliveries in the next.
            Progress($"group {size}: connecting {_settings.Connections} receivers");
            List<IBenchConnection> receivers = await ConnectManyAsync(Users('u', 0, _settings.Connections), null, cancellationToken);
            long lostBefore = _sink.ConnectionsLost;
            Dictionary<string, long> lostByBefore = _sink.LostByReason();
            string group = BenchMembership.GroupName(size);
            int senderCount = Math.Min(size, _settings.Senders);
            List<IBenchConnection> senders = await ConnectManyAsync(Users('u', 0, senderCount), group, cancellationToken);
            int fan = size + senderCount;
            double rate = _settings.Rates.TryGetValue(size, out double r) ? r : 100;
            _sink.Reset();
            _sink.MeasureLatency = true;
            TimeSpan warmup = NextWarmup();
            Progress($"group {size}: {rate:0} messages/s open-loop ({rate * fan:0} deliveries/s), warm-up {warmup.TotalSeconds:0.#} s, measuring {_settings.Duration.TotalSeconds:0.#} s");

            long start = Stopwatch.GetTimestamp() + Stopwatch.Frequency / 10;
            long recordFrom = start + (long)(warmup.TotalSeconds * Stopwatch.Frequency);
            long end = recordFrom + (long)(_settings.Duration.TotalSeconds * Stopwatch.Frequency);
            _sink.RecordFrom(recordFrom);
            var pacer = new Pacer(senders, group, rate, start, end);
            // The pacer owns a thread of its own, and nothing blocks a thread-pool thread waiting for it: on one core
            // the pool starts with one worker, and a blocked one stalls every receive loop until the pool grows.
            var paced = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var thread = new Thread(() =>
            {
                pacer.Run();
                paced.TrySetResult();
            })
            { IsBackground = true, Name = "pacer", Priority = ThreadPriority.AboveNormal };
            thread.Start();
            await paced.Task.WaitAsync(warmup + _settings.Duration + TimeSpan.FromSeconds(30), cancellationToken);

            if (pacer.Error is not null)
            {
                throw new InvalidOperationException("publishing failed: " + pacer.Error);
            }

            long expected = pacer.Sent * fan;
            await DrainAsync(expected, cancellationToken);
            long lost = Math.Max(0, expected - _sink.Received);
            (double p50, double p99, double p999, double max, long count) = _sink.Percentiles();
            Report(new ResultRow
            {
                System = _settings.System,
                Scenario = "latency",
                GroupSize = size,
                P50Ms = Finite(p50),
                P99Ms = Finite(p99),
                P999Ms = Finite(p999),
                MaxMs = Finite(max),
                Lost = lost,
                Extra = AddLostReasons(new Dictionary<string, double>
                {
                    ["rateMsgsPerSec"] = rate,
                    ["offeredDeliveriesPerSec"] = rate * fan,
                    ["samples"] = count,
                    ["pacerBehindMaxMs"] = pacer.MaxBehindMs,
                    ["saturated"] = pacer.GaveUp ? 1 : 0,
                    ["connectionsLost"] = _sink.ConnectionsLost - lostBefore,
                }, _sink.LostByReason(), lostByBefore),
            });
            _sink.MeasureLatency = false;
            await DisposeAllAsync(senders);
            await DisposeAllAsync(receivers);
        }
    }

    private static double? Finite(double value) => double.IsFinite(value) ? value : null;

    // One "lost:REASON" figure per close code (or "broken"), so a run that loses connections says why.
    private static Dictionary<string, double> AddLostReasons(Dictionary<string, double> extra, Dictionary<string, long> now, Dictionary<string, long>? before)
    {
        foreach ((string reason, long count) in now)
        {
            long delta = count - (before is not null && before.TryGetValue(reason, out long earlier) ? earlier : 0);
            if (delta > 0)
            {
                extra["lost:" + reason] = delta;
            }
        }

        return extra;
    }

    // The first measured group size of a server process warms up for JitWarmup: until then the servers run code the
    // tiered JIT has not optimised yet (GroupRelay.Core and StackExchange.Redis start at tier 0; ASP.NET Core's own
    // assemblies are precompiled), which measured up to 40 % slower. Later sizes reuse the same code paths.
    private TimeSpan NextWarmup()
    {
        TimeSpan warmup = _jitWarm ? _settings.Warmup : TimeSpan.FromTicks(Math.Max(_settings.Warmup.Ticks, _settings.JitWarmup.Ticks));
        _jitWarm = true;
        return warmup;
    }

    private async Task IdleAsync(CancellationToken cancellationToken)
    {
        (double ws0, double gc0) = await ServerMemoryAsync(cancellationToken);
        Progress($"connecting {_settings.IdleConnections} idle connections");
        List<IBenchConnection> idle = await ConnectManyAsync(Users('i', 0, _settings.IdleConnections), null, cancellationToken);
        await Task.Delay(_settings.Warmup, cancellationToken);
        (double ws1, double gc1) = await ServerMemoryAsync(cancellationToken);
        int n = _settings.IdleConnections;
        Report(new ResultRow
        {
            System = _settings.System,
            Scenario = "idle",
            MemPerConnBytes = (ws1 - ws0) / n,
            Extra = new Dictionary<string, double>
            {
                ["connections"] = n,
                ["gcHeapPerConnBytes"] = (gc1 - gc0) / n,
                ["workingSetBytes"] = ws1,
                ["gcHeapBytes"] = gc1,
            },
        });
        Progress("closing idle connections");
        await DisposeAllAsync(idle);
    }

    private static async Task<(double WorkingSet, double GcHeap)> ServerMemoryAsync(CancellationToken cancellationToken)
    {
        Console.Out.WriteLine("STATS?");
        Console.Out.Flush();
        string? line = await StandardInput.ReadLineAsync(cancellationToken).AsTask().WaitAsync(TimeSpan.FromSeconds(60), cancellationToken);
        if (line is null || !line.StartsWith("STATS ", StringComparison.Ordinal))
        {
            throw new InvalidOperationException("the orchestrator did not answer STATS? (got: " + (line ?? "end of input") + ")");
        }

        using JsonDocument stats = JsonDocument.Parse(line["STATS ".Length..]);
        return (stats.RootElement.GetProperty("workingSet").GetDouble(), stats.RootElement.GetProperty("gcHeap").GetDouble());
    }

    private async Task ConnectScenarioAsync(CancellationToken cancellationToken)
    {
        int n = _settings.ConnectConnections;
        int warmup = Math.Min(50, n);
        Progress($"warming up with {warmup} connections");
        await DisposeAllAsync(await ConnectManyAsync(Users('c', n, warmup), null, cancellationToken));
        Progress($"connecting {n} users ({_settings.ConnectConcurrency} at a time)");
        long t0 = Stopwatch.GetTimestamp();
        TimeSpan server0 = ServerCpu();
        List<IBenchConnection> connections = await ConnectManyAsync(Users('c', 0, n), null, cancellationToken);
        double seconds = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        double serverCpu = (ServerCpu() - server0).TotalSeconds;
        Report(new ResultRow
        {
            System = _settings.System,
            Scenario = "connect",
            ConnectsPerSec = n / seconds,
            Extra = new Dictionary<string, double>
            {
                ["connections"] = n,
                ["serverCpuMsPerConnect"] = 1000 * serverCpu / n,
            },
        });
        await DisposeAllAsync(connections);
    }

    /// <summary>
    /// Publishes at a fixed rate from a dedicated thread. Each message carries its intended send time, so a stall
    /// anywhere (server, socket, this client) shows in the latency of every message it delays: no coordinated omission.
    /// </summary>
    private sealed class Pacer
    {
        private readonly List<IBenchConnection> _senders;
        private readonly string _group;
        private readonly double _rate;
        private readonly long _start;
        private readonly long _end;

        public Pacer(List<IBenchConnection> senders, string group, double rate, long start, long end)
        {
            _senders = senders;
            _group = group;
            _rate = rate;
            _start = start;
            _end = end;
        }

        public long Sent { get; private set; }

        public double MaxBehindMs { get; private set; }

        public bool GaveUp { get; private set; }

        public string? Error { get; private set; }

        public void Run()
        {
            try
            {
                Pace();
            }
            catch (Exception ex)
            {
                Error = ex.GetBaseException().Message;
                GaveUp = true;
            }
        }

        private void Pace()
        {
            var pending = new Task?[_senders.Count];
            for (long k = 0; ; k++)
            {
                long intended = _start + (long)(k * Stopwatch.Frequency / _rate);
                if (intended >= _end)
                {
                    return;
                }

                while (true)
                {
                    long ahead = intended - Stopwatch.GetTimestamp();
                    if (ahead <= 0)
                    {
                        break;
                    }

                    if (ahead > Stopwatch.Frequency / 500)
                    {
                        Thread.Sleep((int)(ahead * 1000 / Stopwatch.Frequency) - 1);
                    }
                    else
                    {
                        Thread.Yield();
                    }
                }

                double behindMs = (Stopwatch.GetTimestamp() - intended) * 1000.0 / Stopwatch.Frequency;
                MaxBehindMs = Math.Max(MaxBehindMs, behindMs);
                if (behindMs > 5000)
                {
                    // Hopelessly behind: the system cannot take this rate. Stop rather than run unbounded.
                    GaveUp = true;
                    return;
                }

                int slot = (int)(k % _senders.Count);
                if (pending[slot] is { IsCompleted: false } previous && !previous.Wait(TimeSpan.FromSeconds(10)))
                {
                    GaveUp = true;
                    return;
                }

                ValueTask send = _senders[slot].SendAsync(_group, intended, k);
                pending[slot] = send.IsCompletedSuccessfully ? null : send.AsTask();
                Sent++;
            }
        }
    }
}

/// <summary>What the orchestrator tells a client process.</summary>
internal sealed class ClientSettings
{
    public string System { get; set; } = SystemNames.GroupRelay;

    public string Scenario { get; set; } = "fanout";

    public int Port { get; set; }

    public int ServerPid { get; set; }

    /// <summary>Second node (grouprelay-redis), or 0.</summary>
    public int Port2 { get; set; }

    public int Server2Pid { get; set; }

    public int RedisPid { get; set; }

    public Uri BaseUri => new("http://127.0.0.1:" + Port.ToString(CultureInfo.InvariantCulture));

    public Uri WsBaseUri => new("ws://127.0.0.1:" + Port.ToString(CultureInfo.InvariantCulture));

    public IReadOnlyList<int> Sizes { get; set; } = new[] { 10, 100, 1000 };

    public int Connections { get; set; } = 1000;

    public int Senders { get; set; } = 4;

    public int IdleConnections { get; set; } = 5000;

    public int ConnectConnections { get; set; } = 2000;

    public int ConnectConcurrency { get; set; } = 32;

    public TimeSpan Warmup { get; set; } = TimeSpan.FromSeconds(2);

    public TimeSpan JitWarmup { get; set; } = TimeSpan.FromSeconds(15);

    public TimeSpan Duration { get; set; } = TimeSpan.FromSeconds(10);

    public TimeSpan Drain { get; set; } = TimeSpan.FromSeconds(10);

    public TimeSpan Deadline { get; set; } = TimeSpan.FromMinutes(10);

    public Dictionary<int, double> Rates { get; set; } = new();
}
