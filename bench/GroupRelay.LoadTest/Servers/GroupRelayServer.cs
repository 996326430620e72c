using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace GroupRelay.LoadTest.Servers;

/// <summary>
/// GroupRelay on its ASP.NET Core transport: <c>MapGroupRelay("/relay").RequireAuthorization()</c>; with a Redis
/// endpoint (<c>--redis HOST:PORT</c>), one node of a scaled-out deployment (<c>.AddRedis(endpoint)</c>).
/// </summary>
internal static class GroupRelayServer
{
    public static Task<(int Port, Func<Task> Stop)> StartAsync(IReadOnlyList<int> groupSizes, string? redis, CancellationToken cancellationToken)
    {
        WebApplicationBuilder builder = KestrelHost.CreateBuilder();
        IGroupRelayBuilder relay = builder.Services.AddGroupRelay(BenchRelayOptions.Configure).AddMembershipSource(new BenchMembershipSource(groupSizes));
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
