using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace GroupRelay.LoadTest.Servers;

/// <summary>
/// GroupRelay on its ASP.NET Core transport: <c>MapGroupRelay("/relay").RequireAuthorization()</c>; with a Redis
/// endpoint (<c>--redis HOST:PORT</c>), one node of a scaled-out deployment (<c>.AddRedis(endpoint)</c>); with
/// <c>--history-messages N</c>, <c>HistoryMessagesPerGroup = N</c> (grouprelay-noretention: 0, retention off).
/// </summary>
internal static class GroupRelayServer
{
    public static Task<(int Port, Func<Task> Stop)> StartAsync(IReadOnlyList<int> groupSizes, string? redis, int? historyMessagesPerGroup, CancellationToken cancellationToken)
    {
        WebApplicationBuilder builder = KestrelHost.CreateBuilder();
        IGroupRelayBuilder relay = builder.Services
            .AddGroupRelay(options =>
            {
                BenchRelayOptions.Configure(options);
                if (historyMessagesPerGroup is int history)
                {
                    options.HistoryMessagesPerGroup = history;
                }
            })
            .AddMembershipSource(new BenchMembershipSource(groupSizes));
        if (redis is not null)
        {
            relay.AddRedis(redis);
        }

        WebApplication app = builder.Build();
        app.UseWebSockets();
        app.UseAuthentication();
        app.UseAuthorization();
        app.MapGroupRelay("/relay").RequireAuthorization();
        return KestrelHost.StartAsync(app, cancellationToken);
    }
}
