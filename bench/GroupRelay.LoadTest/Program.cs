using System;
using System.Globalization;
using System.Linq;
using System.Text.Json;
using System.Threading.Tasks;
using GroupRelay.LoadTest.Client;
using GroupRelay.LoadTest.Servers;

namespace GroupRelay.LoadTest;

/// <summary>
/// One executable, three roles: the orchestrator (default), a server process (<c>server --system NAME --sizes
/// 10,100 [--redis HOST:PORT] [--history-messages N]</c>; the last two for GroupRelay only) and a client process
/// (<c>client SETTINGS-JSON</c>). See <see cref="Orchestrator"/> for the options.
/// </summary>
public static class Program
{
    /// <summary>Runs the role the first argument names.</summary>
    /// <param name="args">Command-line arguments.</param>
    /// <returns>0 on success.</returns>
    public static async Task<int> Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "server")
        {
            string system = Value(args, "--system") ?? SystemNames.GroupRelay;
            int[] sizes = (Value(args, "--sizes") ?? "10,100,1000").Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
            return system switch
            {
                SystemNames.GroupRelay or SystemNames.GroupRelayRedis => await ServerProcess.RunAsync(ct => GroupRelayServer.StartAsync(sizes, Value(args, "--redis"), HistoryMessages(args), ct)),
                SystemNames.SignalR or SystemNames.SignalRLite => await ServerProcess.RunAsync(ct => SignalRServer.StartAsync(sizes, ct)),
                SystemNames.Raw => await ServerProcess.RunAsync(ct => RawServer.StartAsync(sizes, coalesce: false, ct)),
                SystemNames.RawCoalescing => await ServerProcess.RunAsync(ct => RawServer.StartAsync(sizes, coalesce: true, ct)),
                _ => Fail("unknown server system '" + system + "' (the Fleck server is bench/GroupRelay.LoadTest.FleckServer)"),
            };
        }

        if (args.Length > 1 && args[0] == "client")
        {
            ClientSettings settings = JsonSerializer.Deserialize<ClientSettings>(args[1]) ?? throw new ArgumentException("client settings");
            return await new ClientRunner(settings).RunAsync();
        }

        OrchestratorOptions options;
        try
        {
            options = OrchestratorOptions.Parse(args);
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException)
        {
            return Fail("GroupRelay.LoadTest: " + ex.Message);
        }

        return await new Orchestrator(options).RunAsync();
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine(message);
        return 2;
    }

    /// <summary><c>--history-messages N</c>: GroupRelay's <c>HistoryMessagesPerGroup</c> (0 = retention off), or null for the default.</summary>
    private static int? HistoryMessages(string[] args)
        => Value(args, "--history-messages") is string n ? int.Parse(n, NumberStyles.None, CultureInfo.InvariantCulture) : null;

    private static string? Value(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }
}
