using System;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using GroupRelay.Testing;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace GroupRelay.LoadTest.Servers;

/// <summary>
/// The Kestrel set-up the three Kestrel-based systems share: 127.0.0.1, a free port, benchmark auth, and no logging
/// unless <c>GROUPRELAY_BENCH_LOG</c> names a level (for example <c>Warning</c>): then the server logs at that level to
/// stderr, which the orchestrator passes on with the process id (see <see cref="ChildProcess"/>).
/// </summary>
internal static class KestrelHost
{
    public static WebApplicationBuilder CreateBuilder()
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        if (Enum.TryParse(Environment.GetEnvironmentVariable(ChildProcess.LogVariable), ignoreCase: true, out LogLevel level))
        {
            // stdout carries the server-process contract (LISTENING, STATS), so the log goes to stderr only.
            builder.Logging.AddSimpleConsole(o => o.TimestampFormat = "HH:mm:ss.fff ");
            builder.Services.Configure<Microsoft.Extensions.Logging.Console.ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
            builder.Logging.SetMinimumLevel(level);
        }

        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Services.AddAuthentication(TestAuthHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, TestAuthHandler>(TestAuthHandler.SchemeName, null);
        builder.Services.AddAuthorization();
        return builder;
    }

    public static async Task<(int Port, Func<Task> Stop)> StartAsync(WebApplication app, CancellationToken cancellationToken)
    {
        await app.StartAsync(cancellationToken);
        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        int port = new Uri(address).Port;
        return (port, async () =>
        {
            await app.StopAsync();
            await app.DisposeAsync();
        });
    }
}
