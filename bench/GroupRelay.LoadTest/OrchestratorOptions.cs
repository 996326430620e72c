using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;

namespace GroupRelay.LoadTest;

/// <summary>Command-line options of the orchestrator.</summary>
internal sealed class OrchestratorOptions
{
    public const string Usage = """
        GroupRelay.LoadTest: GroupRelay vs ASP.NET Core SignalR vs a raw Kestrel WebSocket ceiling, each server in its own process.

          --quick               small and short (CI smoke run, under 2 minutes on 2 cores)
          --systems LIST        grouprelay,signalr,signalr-lite,raw,raw-coalescing,grouprelay-fleck,grouprelay-redis (default: all;
                                Fleck is skipped when it cannot be built, grouprelay-redis when redis-server is missing;
                                grouprelay-redis = two GroupRelay nodes through a redis-server of its own, fanout and
                                latency only). signalr uses Microsoft.AspNetCore.SignalR.Client; signalr-lite is the
                                same server driven by a minimal JSON-protocol client as cheap as the other clients;
                                raw-coalescing is the ceiling with GroupRelay's write coalescing;
                                grouprelay-baseline and grouprelay-redis-baseline need --baseline-server;
                                grouprelay-noretention (only when named) is grouprelay with message retention off
                                (server option --history-messages 0); run with grouprelay, its fan-out alternates
                                with grouprelay's size by size and the report gives retention on / off deliveries/s
          --scenarios LIST      fanout,latency,idle,connect (default: all)
          --sizes LIST          group sizes for fanout and latency (default 10,100,1000; quick 10,100)
          --connections N       receivers connected during fanout and latency (default 1000; quick 100)
          --duration SECONDS    measured time per fanout/latency run (default 10; quick 1)
          --warmup SECONDS      publishing before each fanout/latency measurement (default 2; quick 0.3)
          --jit-warmup SECONDS  the first group size of each server process warms up this long instead, until the
                                tiered JIT has optimised the servers' code (default 15; quick 0.3)
          --idle N              idle connections (default 5000; quick 200)
          --connect N           connections opened in the connect scenario (default 2000; quick 100)
          --latency-fraction F  latency runs publish at F x SignalR's measured fan-out saturation (default 0.5)
          --latency-rate N      latency runs publish N messages/s instead (for runs without SignalR's fan-out)
          --json PATH           write one JSON object per (system, scenario, size)
          --out DIR             where the chart goes (default bench/results; quick: bench/results/quick)
          --no-pin              do not pin server and client to different cores with taskset
          --baseline-server DIR the output folder of bench/GroupRelay.LoadTest built from another commit (the folder
                                holding GroupRelay.LoadTest.dll, e.g. bin/Release/net10.0): adds grouprelay-baseline
                                and grouprelay-redis-baseline to the default systems, the same systems with their
                                server processes started from DIR (the client is always this build); their fan-out
                                runs alternate with the current build's size by size, and the report ends with
                                current / baseline deliveries/s. See docs/performance.md, "Comparing two builds"
        """;

    public bool Quick { get; private set; }

    public List<string> Systems { get; private set; } = SystemNames.All.Where(s => !SystemNames.IsExplicitOnly(s)).ToList();

    public List<string> Scenarios { get; private set; } = new() { "fanout", "latency", "idle", "connect" };

    public int[] Sizes { get; private set; } = { 10, 100, 1000 };

    public int Connections { get; private set; } = 1000;

    public double DurationSeconds { get; private set; } = 10;

    public double WarmupSeconds { get; private set; } = 2;

    public double JitWarmupSeconds { get; private set; } = 15;

    public int Idle { get; private set; } = 5000;

    public int Connect { get; private set; } = 2000;

    public double LatencyFraction { get; private set; } = 0.5;

    public double? LatencyRate { get; private set; }

    public string? JsonPath { get; private set; }

    public string? OutDir { get; private set; }

    public bool Pin { get; private set; } = true;

    public bool Help { get; private set; }

    /// <summary>The full path of the <c>--baseline-server</c> build's GroupRelay.LoadTest.dll, or null.</summary>
    public string? BaselineAssembly { get; private set; }

    public static OrchestratorOptions Parse(string[] args)
    {
        var o = new OrchestratorOptions();
        if (args.Contains("--quick"))
        {
            o.Quick = true;
            o.Sizes = new[] { 10, 100 };
            o.Connections = 100;
            o.DurationSeconds = 1;
            o.WarmupSeconds = 0.3;
            o.JitWarmupSeconds = 0.3;
            o.Idle = 200;
            o.Connect = 100;
        }

        bool systemsGiven = false;
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException("missing value after " + args[i]);
            switch (args[i])
            {
                case "--quick":
                    break;
                case "--systems":
                    o.Systems = Next().Split(',', StringSplitOptions.RemoveEmptyEntries).ToList();
                    systemsGiven = true;
                    foreach (string s in o.Systems.Where(s => !SystemNames.All.Contains(s)))
                    {
                        throw new ArgumentException("unknown system '" + s + "'");
                    }

                    break;
                case "--scenarios":
                    o.Scenarios = Next().Split(',', StringSplitOptions.RemoveEmptyEntries).ToList();
                    break;
                case "--sizes":
                    o.Sizes = Next().Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
                    break;
                case "--connections":
                    o.Connections = int.Parse(Next(), CultureInfo.InvariantCulture);
                    break;
                case "--duration":
                    o.DurationSeconds = double.Parse(Next(), CultureInfo.InvariantCulture);
                    break;
                case "--warmup":
                    o.WarmupSeconds = double.Parse(Next(), CultureInfo.InvariantCulture);
                    break;
                case "--jit-warmup":
                    o.JitWarmupSeconds = double.Parse(Next(), CultureInfo.InvariantCulture);
                    break;
                case "--idle":
                    o.Idle = int.Parse(Next(), CultureInfo.InvariantCulture);
                    break;
                case "--connect":
                    o.Connect = int.Parse(Next(), CultureInfo.InvariantCulture);
                    break;
                case "--latency-fraction":
                    o.LatencyFraction = double.Parse(Next(), CultureInfo.InvariantCulture);
                    break;
                case "--latency-rate":
                    o.LatencyRate = double.Parse(Next(), CultureInfo.InvariantCulture);
                    break;
                case "--json":
                    o.JsonPath = Next();
                    break;
                case "--out":
                    o.OutDir = Next();
                    break;
                case "--no-pin":
                    o.Pin = false;
                    break;
                case "--baseline-server":
                    o.BaselineAssembly = BaselineAssemblyIn(Next());
                    break;
                case "-h":
                case "--help":
                    o.Help = true;
                    break;
                default:
                    throw new ArgumentException("unknown option '" + args[i] + "'\n" + Usage);
            }
        }

        if (o.BaselineAssembly is null && o.Systems.FirstOrDefault(SystemNames.IsBaseline) is string baseline)
        {
            throw new ArgumentException($"system '{baseline}' needs --baseline-server DIR (the output folder of bench/GroupRelay.LoadTest built from the other commit)");
        }

        if (o.BaselineAssembly is not null && !systemsGiven)
        {
            o.Systems = SystemNames.All.Where(s => SystemNames.IsBaseline(s) || !SystemNames.IsExplicitOnly(s)).ToList();
        }

        if (o.Sizes.Any(s => s > o.Connections))
        {
            throw new ArgumentException($"a group size is larger than --connections {o.Connections}");
        }

        return o;
    }

    /// <summary>
    /// The baseline build's GroupRelay.LoadTest.dll in <paramref name="folder"/>, checked here so that a wrong path is one
    /// line and exit code 2 rather than a server that does not start in the middle of a run.
    /// </summary>
    private static string BaselineAssemblyIn(string folder)
    {
        const string assembly = "GroupRelay.LoadTest.dll";
        if (!Directory.Exists(folder))
        {
            throw new ArgumentException($"--baseline-server: '{folder}' is not a folder (pass the output folder of bench/GroupRelay.LoadTest built from the other commit, e.g. .../bin/Release/net10.0)");
        }

        string path = Path.GetFullPath(Path.Combine(folder, assembly));
        if (!File.Exists(path))
        {
            throw new ArgumentException($"--baseline-server: '{folder}' holds no {assembly} (build bench/GroupRelay.LoadTest at the other commit, then pass its bin/Release/net10.0)");
        }

        return path;
    }
}
