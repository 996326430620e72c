using System;
using System.Collections.Generic;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.DependencyInjection;

namespace GroupRelay.LoadTest.Servers;

/// <summary>
/// ASP.NET Core SignalR with the same membership: each connection joins its user's groups in
/// <c>OnConnectedAsync</c>; <c>Send(group, body)</c> calls <c>Clients.Group(group).SendAsync("message", ...)</c>.
/// JSON protocol, WebSockets only, default options.
/// </summary>
internal static class SignalRServer
{
    public static Task<(int Port, Func<Task> Stop)> StartAsync(IReadOnlyList<int> groupSizes, CancellationToken cancellationToken)
    {
        WebApplicationBuilder builder = KestrelHost.CreateBuilder();
        builder.Services.AddSingleton(new GroupSizes(groupSizes));
        builder.Services.AddSignalR();
        WebApplication app = builder.Build();
        app.UseAuthentication();
        app.UseAuthorization();
        app.MapHub<BenchHub>("/hub", o => o.Transports = HttpTransportType.WebSockets).RequireAuthorization();
        return KestrelHost.StartAsync(app, cancellationToken);
    }

    internal sealed record GroupSizes(IReadOnlyList<int> Sizes);

    /// <summary>The hub: joins the user's groups on connect, then tells the client it is ready (as GroupRelay's <c>welcome</c>).</summary>
    [Authorize]
    internal sealed class BenchHub : Hub
    {
        private readonly GroupSizes _sizes;

        public BenchHub(GroupSizes sizes) => _sizes = sizes;

        public override async Task OnConnectedAsync()
        {
            foreach (string group in BenchMembership.GroupsOf(Context.UserIdentifier ?? string.Empty, _sizes.Sizes))
            {
                await Groups.AddToGroupAsync(Context.ConnectionId, group);
            }

            await Clients.Caller.SendAsync("welcome");
        }

        public Task Send(string group, JsonElement body) => Clients.Group(group).SendAsync("message", group, Context.UserIdentifier, body);
    }
}
