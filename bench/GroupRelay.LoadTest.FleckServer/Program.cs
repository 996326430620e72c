using System;
using System.Globalization;
using System.Linq;
using System.Threading.Tasks;
using Fleck;
using GroupRelay.LoadTest.Servers;
using GroupRelay.Transports.Fleck;

namespace GroupRelay.LoadTest.FleckServer;

/// <summary>
/// <c>server --system grouprelay-fleck --sizes 10,100</c>: GroupRelay on Fleck at ws://127.0.0.1 (a free port), with
/// the load test's membership and options; <c>?access_token=USER</c> is the user id, as on the other servers.
/// </summary>
public static class Program
{
    /// <summary>Runs the server until stdin says <c>quit</c> or closes.</summary>
    /// <param name="args">Command-line arguments.</param>
    /// <returns>0 on a clean exit.</returns>
    public static Task<int> Main(string[] args)
    {
        int i = Array.IndexOf(args, "--sizes");
        int[] sizes = (i >= 0 && i + 1 < args.Length ? args[i + 1] : "10,100,1000").Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        // Fleck logs to the console by default; stdout is the server's protocol with the orchestrator.
        FleckLog.LogAction = (level, message, ex) =>
        {
            if (level >= LogLevel.Error)
            {
                Console.Error.WriteLine(message + (ex is null ? string.Empty : " " + ex.Message));
            }
        };
        return ServerProcess.RunAsync(_ =>
        {
            FleckRelayServer server = FleckRelayServer.Create(
                "ws://127.0.0.1:0",
                new BenchMembershipSource(sizes),
                o => o.Authenticate = info => FleckRelayAuthentication.GetAccessToken(info),
                BenchRelayOptions.Configure);
            server.Start();
            return Task.FromResult<(int, Func<Task>)>((server.Port, async () => await server.DisposeAsync()));
        });
    }
}
