using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Threading.Tasks;
using GroupRelay.LoadTest.Client;
using GroupRelay.Testing;

namespace GroupRelay.LoadTest;

/// <summary>
/// Runs every (scenario, system): starts the system's server process pinned to one core, then a client process pinned
/// to the other, relays the client's requests for server statistics, and collects the results into Markdown tables
/// (stdout), optional JSON and a chart.
/// </summary>
internal sealed class Orchestrator
{
    private static readonly JsonSerializerOptions IndentedJson = new() { WriteIndented = true };
    private readonly OrchestratorOptions _options;
    private readonly List<ResultRow> _results = new();
    private readonly HashSet<string> _skipped = new();
    private readonly List<string> _failures = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly string _root;
    private readonly bool _pin;
    private FleckServerHook? _fleck;

    public Orchestrator(OrchestratorOptions options)
    {
        _options = options;
        _root = FindRepositoryRoot();
        _pin = options.Pin && Environment.ProcessorCount >= 2 && File.Exists("/usr/bin/taskset");
    }

    public async Task<int> RunAsync()
    {
        if (_options.Help)
        {
            Console.WriteLine(OrchestratorOptions.Usage);
            return 0;
        }

        Console.WriteLine("# GroupRelay load test" + (_options.Quick ? " (quick)" : string.Empty));
        Console.WriteLine();
        string machine = MachineDescription();
        Console.WriteLine(machine);
        Console.WriteLine();
        foreach (string scenario in _options.Scenarios)
        {
            foreach (string system in _options.Systems)
            {
                if (_skipped.Contains(system))
                {
                    continue;
                }

                List<string> compared = SystemNames.ComparedWith(system).Where(_options.Systems.Contains).ToList();
                if (scenario == "fanout" && compared.Count > 0)
                {
                    await RunInterleavedAsync(system, compared, scenario);
                    continue;
                }

                // A compared system's fan-out (a baseline build, retention off) runs interleaved with its subject's,
                // wherever --systems lists that.
                if (scenario == "fanout" && SystemNames.IsComparedWithin(system, _options.Systems))
                {
                    continue;
                }

                await RunOneAsync(system, scenario, _options.Sizes);
            }
        }

        Console.WriteLine();
        Console.WriteLine(Report.Markdown(_results, _options.Systems.Where(s => !_skipped.Contains(s)).ToList()));
        Console.WriteLine("load average at the end: " + LoadAverage());
        if (_options.JsonPath is not null)
        {
            string json = JsonSerializer.Serialize(_results.Select(r => r.SchemaOnly()), IndentedJson);
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(_options.JsonPath))!);
            await File.WriteAllTextAsync(_options.JsonPath, json);
            Console.WriteLine("JSON: " + _options.JsonPath);
        }

        string outDir = _options.OutDir ?? Path.Combine(_root, "bench", "results", _options.Quick ? "quick" : string.Empty);
        Directory.CreateDirectory(outDir);
        string chart = Path.Combine(outDir, "loadtest.svg");
        await File.WriteAllTextAsync(chart, SvgChart.Render(_results, _options.Systems.Where(s => !_skipped.Contains(s)).ToList(), machine + "; at the end: " + LoadAverage()));
        Console.WriteLine("chart: " + Path.GetRelativePath(Environment.CurrentDirectory, chart));

        if (_failures.Count > 0)
        {
            Console.Error.WriteLine();
            foreach (string failure in _failures)
            {
                Console.Error.WriteLine("FAILED: " + failure);
            }

            return 1;
        }

        return 0;
    }

    private string MachineDescription()
        => $"machine: {System.Environment.ProcessorCount} cores, {RuntimeInformation.OSDescription}, {RuntimeInformation.FrameworkDescription}; " +
           $"server and client {(_pin ? "pinned to cores 0 and 1 (taskset; grouprelay-redis: both nodes and redis-server on core 0)" : "not pinned")}; load average at start: {LoadAverage()}" +
           (_options.BaselineAssembly is null ? string.Empty : "; baseline server: " + _options.BaselineAssembly);

    public static string LoadAverage()
    {
        try
        {
            string[] parts = File.ReadAllText("/proc/loadavg").Split(' ');
            return string.Join(' ', parts.Take(3));
        }
        catch (IOException)
        {
            return "n/a";
        }
    }

    private void Log(string system, string scenario, string text)
        => Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"[{_clock.Elapsed.TotalSeconds,6:0.0}s] {system,-16} {scenario,-8} {text}"));

    private async Task RunOneAsync(string system, string scenario, IReadOnlyList<int> sizes)
    {
        if (SystemNames.RunsAs(system) == SystemNames.GroupRelayRedis)
        {
            await RunTwoNodesAsync(system, scenario, sizes);
            return;
        }

        Log(system, scenario, "starting server (load " + LoadAverage() + ")");
        List<string>? serverCommand = await ServerCommandAsync(system, scenario, sizes);
        if (serverCommand is null)
        {
            return;
        }

        (ChildProcess? server, int port) = await StartServerAsync(system, scenario, serverCommand);
        if (server is null)
        {
            return;
        }

        using (server)
        {
            Log(system, scenario, $"server pid {server.Id} listening on 127.0.0.1:{port}");
            await RunClientAsync(system, scenario, server, ClientSettingsFor(system, scenario, sizes, port, server.Id));
            await server.StopAsync(TimeSpan.FromSeconds(15));
        }
    }

    /// <summary>
    /// Fan-out of a system and the systems it is compared with (<see cref="SystemNames.Comparisons"/>: its baseline
    /// build, GroupRelay with retention off), interleaved: for each group size, the system, then each of the others,
    /// each in server and client processes of their own started for that size alone, so that the machine's load,
    /// which drifts by the minute on a shared VM, falls on every system of a size alike rather than on one system's
    /// whole run. The price: every size of every system has its own JIT warm-up (<c>--jit-warmup</c>) and connects
    /// its receivers, where one process otherwise runs all sizes. Other scenarios are not interleaved: they run each
    /// system once, in the order of <c>--systems</c> (by default, a baseline right after its current build).
    /// </summary>
    private async Task RunInterleavedAsync(string system, IReadOnlyList<string> compared, string scenario)
    {
        foreach (int size in _options.Sizes)
        {
            foreach (string run in compared.Prepend(system))
            {
                if (!_skipped.Contains(run))
                {
                    await RunOneAsync(run, scenario, new[] { size });
                }
            }

            double? Deliveries(string s) => _results.FirstOrDefault(r => r.System == s && r.Scenario == scenario && r.GroupSize == size)?.DeliveriesPerSec;
            foreach (string reference in compared)
            {
                if (Deliveries(system) is not null || Deliveries(reference) is not null)
                {
                    SystemNames.Comparison comparison = SystemNames.ComparisonOf(system, reference);
                    Log(reference, scenario, $"group {size}: {system} / {reference} deliveries/s = {Report.Ratio(Deliveries(system), Deliveries(reference))} ({comparison.SubjectLabel} / {comparison.ReferenceLabel})");
                }
            }
        }
    }

    /// <summary>
    /// grouprelay-redis: a redis-server of its own (free loopback port, nothing persisted, killed at the end), two
    /// GroupRelay nodes with <c>.AddRedis</c>, all three on the server core; the client spreads its connections.
    /// </summary>
    private async Task RunTwoNodesAsync(string system, string scenario, IReadOnlyList<int> sizes)
    {
        if (scenario is not ("fanout" or "latency"))
        {
            Log(system, scenario, "not run: two nodes are measured in fanout and latency only");
            return;
        }

        string? binary = LocalRedis.FindBinary();
        if (binary is null)
        {
            _skipped.Add(system);
            Console.WriteLine($"SKIPPED {system}: redis-server is not installed (apt-get install -y redis-server)");
            return;
        }

        Log(system, scenario, "starting redis-server and two nodes (load " + LoadAverage() + ")");
        int redisPort = LocalRedis.FreePort();
        using ChildProcess redis = ChildProcess.Start(RedisProcess.Command(binary, redisPort), _pin ? 0 : null);
        if (!await RedisProcess.WaitForPingAsync(redisPort, redis, TimeSpan.FromSeconds(10)))
        {
            Fail(system, scenario, $"redis-server on 127.0.0.1:{redisPort} did not answer PING within 10 s:\n{redis.StderrTail()}");
            return;
        }

        string endpoint = "127.0.0.1:" + redisPort.ToString(CultureInfo.InvariantCulture);
        List<string> command = ServerCommand(system, sizes);
        command.AddRange(new[] { "--redis", endpoint });
        (ChildProcess? nodeA, int portA) = await StartServerAsync(system, scenario, command);
        if (nodeA is null)
        {
            return;
        }

        using (nodeA)
        {
            (ChildProcess? nodeB, int portB) = await StartServerAsync(system, scenario, command);
            if (nodeB is null)
            {
                await nodeA.StopAsync(TimeSpan.FromSeconds(15));
                return;
            }

            using (nodeB)
            {
                Log(system, scenario, $"redis pid {redis.Id} on {endpoint}; node A pid {nodeA.Id} on 127.0.0.1:{portA}, node B pid {nodeB.Id} on 127.0.0.1:{portB}");
                ClientSettings settings = ClientSettingsFor(system, scenario, sizes, portA, nodeA.Id);
                settings.Port2 = portB;
                settings.Server2Pid = nodeB.Id;
                settings.RedisPid = redis.Id;
                await RunClientAsync(system, scenario, nodeA, settings);
                await nodeB.StopAsync(TimeSpan.FromSeconds(15));
            }

            await nodeA.StopAsync(TimeSpan.FromSeconds(15));
        }

        redis.Kill();
        await redis.WaitForExitAsync(TimeSpan.FromSeconds(10));
    }

    private async Task<(ChildProcess? Server, int Port)> StartServerAsync(string system, string scenario, List<string> serverCommand)
    {
        ChildProcess server = ChildProcess.Start(serverCommand, _pin ? 0 : null);
        int port = 0;
        // A server may log before it listens (Fleck does); everything before LISTENING is ignored, within a minute.
        string? line = null;
        long startDeadline = Stopwatch.GetTimestamp() + 60 * Stopwatch.Frequency;
        while (Stopwatch.GetTimestamp() < startDeadline)
        {
            line = await server.ReadLineAsync(TimeSpan.FromSeconds(Math.Max(1, (startDeadline - Stopwatch.GetTimestamp()) / (double)Stopwatch.Frequency)));
            if (line is null || line.StartsWith("LISTENING ", StringComparison.Ordinal))
            {
                break;
            }
        }

        if (line is null || !line.StartsWith("LISTENING ", StringComparison.Ordinal) || !int.TryParse(line.AsSpan("LISTENING ".Length), CultureInfo.InvariantCulture, out port))
        {
            Fail(system, scenario, $"the {SystemNames.Display(system)} server did not start (first line: {line ?? "none"}; exit: {(server.HasExited ? server.ExitCode.ToString(CultureInfo.InvariantCulture) : "still running")}):\n{server.StderrTail()}");
            server.Dispose();
            return (null, 0);
        }

        return (server, port);
    }

    private async Task RunClientAsync(string system, string scenario, ChildProcess server, ClientSettings settings)
    {
        using ChildProcess client = ChildProcess.Start(ClientCommand(settings), _pin ? 1 : null);
        double load = double.TryParse(LoadAverage().Split(' ')[0], NumberStyles.Float, CultureInfo.InvariantCulture, out double l) ? l : double.NaN;
        long deadline = Stopwatch.GetTimestamp() + (long)(settings.Deadline.TotalSeconds * Stopwatch.Frequency);
        bool gotResult = false;
        while (true)
        {
            TimeSpan left = TimeSpan.FromSeconds(Math.Max(1, (deadline - Stopwatch.GetTimestamp()) / (double)Stopwatch.Frequency));
            string? message = await client.ReadLineAsync(left);
            if (message is null)
            {
                break;
            }

            if (message.StartsWith("PROGRESS ", StringComparison.Ordinal))
            {
                Log(system, scenario, message["PROGRESS ".Length..]);
            }
            else if (message == "STATS?")
            {
                await server.WriteLineAsync("stats");
                string? stats = null;
                for (int i = 0; i < 100 && stats is null; i++)
                {
                    string? reply = await server.ReadLineAsync(TimeSpan.FromSeconds(60));
                    if (reply is null)
                    {
                        break;
                    }

                    stats = reply.StartsWith("STATS ", StringComparison.Ordinal) ? reply : null;
                }

                await client.WriteLineAsync(stats ?? "NOSTATS");
            }
            else if (message.StartsWith("RESULT ", StringComparison.Ordinal))
            {
                ResultRow row = JsonSerializer.Deserialize<ResultRow>(message["RESULT ".Length..])!;
                row.Extra ??= new Dictionary<string, double>();
                row.Extra["loadAverage1m"] = load;
                _results.Add(row);
                gotResult = true;
                Log(system, scenario, Report.Summary(row));
            }
            else if (message.StartsWith("ERROR ", StringComparison.Ordinal))
            {
                Fail(system, scenario, message["ERROR ".Length..] + (server.HasExited ? " (the server exited: " + server.StderrTail() + ")" : string.Empty));
            }
        }

        if (!await client.WaitForExitAsync(TimeSpan.FromSeconds(30)))
        {
            client.Kill();
            Fail(system, scenario, "the client did not finish within its deadline and was killed");
        }
        else if (client.ExitCode != 0 && !_failures.Any(f => f.StartsWith(system + "/" + scenario, StringComparison.Ordinal)))
        {
            Fail(system, scenario, $"the client exited with {client.ExitCode}:\n{client.StderrTail()}");
        }
        else if (!gotResult && client.ExitCode == 0)
        {
            Fail(system, scenario, "the client reported no result");
        }
    }

    private void Fail(string system, string scenario, string message)
    {
        string text = system + "/" + scenario + ": " + message;
        Log(system, scenario, "ERROR " + message);
        if (SystemNames.IsMandatory(system))
        {
            _failures.Add(text);
        }
    }

    private async Task<List<string>?> ServerCommandAsync(string system, string scenario, IReadOnlyList<int> sizes)
    {
        if (system == SystemNames.Fleck)
        {
            _fleck ??= new FleckServerHook(_root);
            List<string>? command = await _fleck.CommandAsync(msg => Log(system, scenario, msg));
            if (command is null)
            {
                _skipped.Add(system);
                Console.WriteLine($"SKIPPED {SystemNames.Fleck}: {_fleck.SkipReason}");
                return null;
            }

            command.AddRange(new[] { "server", "--system", system, "--sizes", string.Join(',', sizes) });
            return command;
        }

        return ServerCommand(system, sizes);
    }

    /// <summary>
    /// A server process of this LoadTest build, or of the <c>--baseline-server</c> build for a baseline system. It is
    /// told the name of the system it runs as (<see cref="SystemNames.RunsAs"/>: for a baseline, the current system's
    /// name, the only names the other build knows) and the system's own options (<see cref="SystemNames.ServerArguments"/>).
    /// </summary>
    private List<string> ServerCommand(string system, IReadOnlyList<int> sizes)
    {
        List<string> command = SelfCommand(SystemNames.IsBaseline(system) ? _options.BaselineAssembly : null);
        command.AddRange(new[] { "server", "--system", SystemNames.RunsAs(system), "--sizes", string.Join(',', sizes) });
        command.AddRange(SystemNames.ServerArguments(system));
        return command;
    }

    /// <summary>
    /// How to start a LoadTest assembly: <paramref name="assembly"/> (another build's GroupRelay.LoadTest.dll) or, when
    /// null, this one. Both builds start the way this process was started, through <c>dotnet</c> or through the
    /// apphost beside the dll, so the two servers compared differ in their code only.
    /// </summary>
    private static List<string> SelfCommand(string? assembly = null)
    {
        string processPath = System.Environment.ProcessPath ?? "dotnet";
        if (Path.GetFileNameWithoutExtension(processPath).Equals("dotnet", StringComparison.OrdinalIgnoreCase))
        {
            return new List<string> { processPath, assembly ?? typeof(Program).Assembly.Location };
        }

        if (assembly is null)
        {
            return new List<string> { processPath };
        }

        string apphost = Path.ChangeExtension(assembly, OperatingSystem.IsWindows() ? ".exe" : null);
        return File.Exists(apphost) ? new List<string> { apphost } : new List<string> { "dotnet", assembly };
    }

    private static List<string> ClientCommand(ClientSettings settings)
    {
        List<string> command = SelfCommand();
        command.Add("client");
        command.Add(JsonSerializer.Serialize(settings));
        return command;
    }

    private ClientSettings ClientSettingsFor(string system, string scenario, IReadOnlyList<int> sizes, int port, int serverPid)
    {
        var settings = new ClientSettings
        {
            System = system,
            Scenario = scenario,
            Port = port,
            ServerPid = serverPid,
            Sizes = sizes,
            Connections = _options.Connections,
            IdleConnections = _options.Idle,
            ConnectConnections = _options.Connect,
            Warmup = TimeSpan.FromSeconds(_options.WarmupSeconds),
            JitWarmup = TimeSpan.FromSeconds(_options.JitWarmupSeconds),
            Duration = TimeSpan.FromSeconds(_options.DurationSeconds),
            Drain = TimeSpan.FromSeconds(_options.Quick ? 3 : 10),
            Deadline = TimeSpan.FromSeconds(_options.Quick ? 60 : 600),
        };
        if (scenario == "latency")
        {
            foreach (int size in sizes)
            {
                settings.Rates[size] = LatencyRate(size);
                // Two nodes through Redis saturate far below one node: offer them the same fraction of their own
                // measured fan-out saturation when that is lower, so the latency run does not measure an overload.
                // With a baseline, the lower of both builds' saturations, so that both are offered the same rate.
                double? own = _results.Where(r => SystemNames.RunsAs(r.System) == SystemNames.RunsAs(system) && r.Scenario == "fanout" && r.GroupSize == size)
                    .Select(r => r.GetExtra("messagesPerSec")).Min();
                if (SystemNames.RunsAs(system) == SystemNames.GroupRelayRedis && _options.LatencyRate is null && own is double saturation && saturation > 0)
                {
                    settings.Rates[size] = Math.Min(settings.Rates[size], Math.Max(10, Math.Round(saturation * _options.LatencyFraction)));
                }
            }
        }

        return settings;
    }

    /// <summary>
    /// A fraction of SignalR's measured fan-out saturation (messages/s; the lower of its two clients', so every system
    /// and client can sustain it); without a SignalR figure, of the slowest system measured.
    /// </summary>
    private double LatencyRate(int size)
    {
        if (_options.LatencyRate is double fixedRate)
        {
            return fixedRate;
        }

        IEnumerable<ResultRow> fanout = _results.Where(r => r.Scenario == "fanout" && r.GroupSize == size && r.GetExtra("messagesPerSec") > 0);
        double? saturation = fanout.Where(r => r.System is SystemNames.SignalR or SystemNames.SignalRLite).Select(r => r.GetExtra("messagesPerSec")).Min()
            ?? fanout.Select(r => r.GetExtra("messagesPerSec")).Min();
        return Math.Max(10, Math.Round((saturation ?? 200) * _options.LatencyFraction));
    }

    private static string FindRepositoryRoot()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "GroupRelay.sln")))
            {
                return dir.FullName;
            }
        }

        return Directory.GetCurrentDirectory();
    }
}
