using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;
using GroupRelay.Testing;

namespace GroupRelay.LoadTest;

/// <summary>
/// The redis-server of the grouprelay-redis system: the installed binary on a free loopback port, nothing persisted
/// (<c>--save '' --appendonly no</c>), killed at the end of the run; how to find and start it is shared with the tests (tests/Shared/LocalRedis.cs).
/// </summary>
internal static class RedisProcess
{
    public static List<string> Command(string binary, int port) => LocalRedis.Arguments(port).Prepend(binary).ToList();

    /// <summary>True once the server answers PING; false when it exits or <paramref name="timeout"/> passes.</summary>
    public static async Task<bool> WaitForPingAsync(int port, ChildProcess process, TimeSpan timeout)
    {
        long deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        for (int attempt = 0; attempt < 1000 && Environment.TickCount64 < deadline && !process.HasExited; attempt++)
        {
            if (await LocalRedis.PingAsync(port))
            {
                return true;
            }

            await Task.Delay(20);
        }

        return false;
    }
}
