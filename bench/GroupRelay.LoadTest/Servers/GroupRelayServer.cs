using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace GroupRelay.LoadTest.Servers;

/// <summary>GroupRelay on its ASP.NET Core transport: <c>MapGroupRelay("/relay").RequireAuthorization()</c>.</summary>
internal static class GroupRelayServer
{
    /// <summary>
    /// The options the benchmark changes, and why: the per-connection rate limit (100/s by default) would cap a
    /// sender long before the server saturates, and SignalR has no equivalent of join/leave events, so both are off.
    /// Everything else (queue bounds, frame size, coalescing) is the default.
    /// </summary>
    public static void Configure(GroupRelayOptions options)
    {
        options.RateLimitEnabled = false;
        options.SendJoinLeaveEvents = false;
    }

    public static Task<(int Port, Func<Task> Stop)> StartAsync(IReadOnlyList<int> groupSizes, CancellationToken cancellationToken)
    {
        WebApplicationBuilder builder = KestrelHost.CreateBuilder();
        builder.Services.AddGroupRelay(Configure).AddMembershipSource(new Membership(groupSizes));
        WebApplication app = builder.Build();
        app.UseWebSockets();
        app.UseAuthentication();
        app.UseAuthorization();
        app.MapGroupRelay("/relay").RequireAuthorization();
        return KestrelHost.StartAsync(app, cancellationToken);
    }

    /// <summary><see cref="BenchMembership"/> as GroupRelay's membership source.</summary>
    internal sealed class Membership : IMembershipSource
    {
        private readonly IReadOnlyList<int> _groupSizes;

        public Membership(IReadOnlyList<int> groupSizes) => _groupSizes = groupSizes;

        public ValueTask<IReadOnlyCollection<string>> GetGroupsAsync(string userId, CancellationToken cancellationToken = default)
            => new((IReadOnlyCollection<string>)BenchMembership.GroupsOf(userId, _groupSizes));

        public ValueTask<IReadOnlyCollection<string>> GetContactsAsync(string userId, CancellationToken cancellationToken = default)
            => new(Array.Empty<string>());
    }
}
