using System;
using System.Collections.Generic;
using System.Diagnostics.Metrics;
using System.IO;
using System.Linq;
using System.Threading.Tasks;
using GroupRelay;
using GroupRelay.Internal;
using GroupRelay.Redis;
using GroupRelay.ScaleOut;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Scales GroupRelay out over Redis: <c>services.AddGroupRelay().AddRedis("127.0.0.1:6379")</c>.</summary>
public static class GroupRelayRedisBuilderExtensions
{
    /// <summary>Uses Redis at <paramref name="redisConnectionString"/> (StackExchange.Redis syntax, e.g. <c>host:6379,password=...</c>).</summary>
    /// <param name="builder">The GroupRelay builder.</param>
    /// <param name="redisConnectionString">The Redis configuration string.</param>
    /// <returns>The builder.</returns>
    public static IGroupRelayBuilder AddRedis(this IGroupRelayBuilder builder, string redisConnectionString)
        => builder.AddRedis(redisConnectionString, static _ => { });

    /// <summary>Uses Redis at <paramref name="redisConnectionString"/> and sets further options.</summary>
    /// <param name="builder">The GroupRelay builder.</param>
    /// <param name="redisConnectionString">The Redis configuration string.</param>
    /// <param name="configure">Sets <see cref="RedisRelayOptions"/>, for example the key prefix.</param>
    /// <returns>The builder.</returns>
    public static IGroupRelayBuilder AddRedis(this IGroupRelayBuilder builder, string redisConnectionString, Action<RedisRelayOptions> configure)
    {
        ArgumentException.ThrowIfNullOrEmpty(redisConnectionString);
        ArgumentNullException.ThrowIfNull(configure);
        ConfigurationOptions configuration = ConfigurationOptions.Parse(redisConnectionString);
        return builder.AddRedis(configuration, configure);
    }

    /// <summary>
    /// Uses Redis with settings from a configuration section (for example <c>builder.Configuration.GetSection("GroupRelay:Redis")</c>):
    /// <c>ConnectionString</c> (required, the StackExchange.Redis configuration string) and any of the
    /// <see cref="RedisRelayOptions"/> by name (<c>Prefix</c>, <c>HeartbeatInterval</c> as <c>hh:mm:ss</c>, ...), then
    /// <paramref name="configure"/> on top. Options are validated when the host starts, as with the other overloads.
    /// </summary>
    /// <param name="builder">The GroupRelay builder.</param>
    /// <param name="configuration">The section.</param>
    /// <param name="configure">Sets options after binding (optional).</param>
    /// <returns>The builder.</returns>
    /// <exception cref="GroupRelayException">The section has no <c>ConnectionString</c>, or a key that is not an option (a misspelling would otherwise be ignored).</exception>
    /// <example>
    /// <code>
    /// // appsettings.json: { "GroupRelay": { "Redis": { "ConnectionString": "localhost:6379", "Prefix": "chat" } } }
    /// builder.Services.AddGroupRelay().AddRedis(builder.Configuration.GetSection("GroupRelay:Redis"));
    /// </code>
    /// </example>
    public static IGroupRelayBuilder AddRedis(this IGroupRelayBuilder builder, IConfiguration configuration, Action<RedisRelayOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        string? connectionString = configuration["ConnectionString"];
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            throw new GroupRelayException($"The configuration section '{(configuration as IConfigurationSection)?.Path}' has no ConnectionString: AddRedis(IConfiguration) needs the Redis configuration string there (e.g. \"localhost:6379\").");
        }

        var known = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { "ConnectionString" };
        foreach (System.Reflection.PropertyInfo property in typeof(RedisRelayOptions).GetProperties())
        {
            if (property.CanWrite && property.Name is not (nameof(RedisRelayOptions.Configuration) or nameof(RedisRelayOptions.ConnectionFactory)))
            {
                known.Add(property.Name);
            }
        }

        List<string> unknown = configuration.GetChildren().Select(c => c.Key).Where(k => !known.Contains(k)).ToList();
        if (unknown.Count > 0)
        {
            throw new GroupRelayException($"The Redis configuration section has keys that are not RedisRelayOptions: {string.Join(", ", unknown)}. Known: {string.Join(", ", known.Order(StringComparer.Ordinal))}.");
        }

        return builder.AddRedis(connectionString, options =>
        {
            configuration.Bind(options);
            configure?.Invoke(options);
        });
    }

    /// <summary>Uses Redis as <paramref name="configuration"/> describes; the relay adjusts a copy (see <see cref="RedisRelayOptions.Configuration"/>).</summary>
    /// <param name="builder">The GroupRelay builder.</param>
    /// <param name="configuration">The StackExchange.Redis configuration.</param>
    /// <param name="configure">Sets <see cref="RedisRelayOptions"/>, or null.</param>
    /// <returns>The builder.</returns>
    public static IGroupRelayBuilder AddRedis(this IGroupRelayBuilder builder, ConfigurationOptions configuration, Action<RedisRelayOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        return builder.AddRedisCore(options =>
        {
            options.Configuration = configuration;
            configure?.Invoke(options);
        });
    }

    /// <summary>
    /// Uses an existing connection (shared with the rest of the application; the relay does not dispose it). Create it
    /// with <c>AbortOnConnectFail = false</c> and a fail-fast backlog so the relay behaves as documented when Redis is away.
    /// </summary>
    /// <param name="builder">The GroupRelay builder.</param>
    /// <param name="connection">The connection.</param>
    /// <param name="configure">Sets <see cref="RedisRelayOptions"/>, or null.</param>
    /// <returns>The builder.</returns>
    public static IGroupRelayBuilder AddRedis(this IGroupRelayBuilder builder, IConnectionMultiplexer connection, Action<RedisRelayOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(connection);
        return builder.AddRedisCore(options =>
        {
            options.ConnectionFactory = _ => Task.FromResult(connection);
            configure?.Invoke(options);
        });
    }

    // Every overload funnels here: one place replaces the in-process defaults. Built in one direction, like the core:
    // connection -> stores (wrapping Core's in-memory ones) -> local delivery (Core) -> node delivery -> publisher,
    // events, backplane -> heartbeat, resync and group upkeep -> hosted service. Each part gets what it needs through its constructor.
    private static IGroupRelayBuilder AddRedisCore(this IGroupRelayBuilder builder, Action<RedisRelayOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        IServiceCollection services = builder.Services;
        services.AddOptions<RedisRelayOptions>().Configure(configure).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<RedisRelayOptions>, RedisRelayOptionsValidator>());

        // The connection and what every part shares.
        services.TryAddSingleton(sp => new RedisKeys(Options(sp).Prefix, Guid.NewGuid().ToString("N"), RedisRelayOptionsValidator.StreamExpiry(Options(sp), RelayOptions(sp))));
        services.TryAddSingleton(sp => new RedisRelayMetrics(sp.GetService<IMeterFactory>()));
        services.TryAddSingleton(sp => new RedisConnection(Options(sp), sp.GetRequiredService<RedisKeys>(), sp.GetRequiredService<RedisRelayMetrics>(), Logger(sp)));
        services.TryAddSingleton(sp => new RedisGuard(sp.GetRequiredService<RedisConnection>(), sp.GetRequiredService<RedisRelayMetrics>(), Logger(sp)));
        services.TryAddSingleton(_ => new SharedExclusiveGate());

        // The stores: Core's in-memory ones are the local truth, mirrored into Redis.
        services.TryAddSingleton(sp => new GroupSubscriptions(sp.GetRequiredService<RedisGuard>(), sp.GetRequiredService<RedisKeys>(), sp.GetRequiredService<InMemoryGroupDirectory>()));
        services.Replace(ServiceDescriptor.Singleton<IPresenceRegistry>(sp => new RedisPresenceRegistry(
            sp.GetRequiredService<InMemoryPresenceRegistry>(),
            sp.GetRequiredService<SharedExclusiveGate>(),
            sp.GetRequiredService<RedisGuard>(),
            sp.GetRequiredService<RedisKeys>())));
        services.Replace(ServiceDescriptor.Singleton<IGroupDirectory>(sp => new RedisGroupDirectory(
            sp.GetRequiredService<InMemoryGroupDirectory>(),
            sp.GetRequiredService<InMemoryPresenceRegistry>(),
            sp.GetRequiredService<SharedExclusiveGate>(),
            sp.GetRequiredService<RedisGuard>(),
            sp.GetRequiredService<GroupSubscriptions>(),
            sp.GetRequiredService<RedisKeys>())));

        // Above the relay's local delivery: what Redis carries in and out.
        services.TryAddSingleton(sp => new NodeDelivery(sp.GetRequiredService<RelayLocalDelivery>(), sp.GetRequiredService<InMemoryGroupDirectory>(), sp.GetRequiredService<RedisRelayMetrics>(), Clock(sp), Logger(sp)));
        services.TryAddSingleton(sp => new EchoTracker(Options(sp).EchoTimeout));
        services.TryAddSingleton(_ => new MembershipAcks());
        services.TryAddSingleton(sp => new RedisAnnouncer(sp.GetRequiredService<RedisGuard>(), sp.GetRequiredService<RedisKeys>(), sp.GetRequiredService<NodeDelivery>()));
        services.TryAddSingleton(sp => new PublishScript(
            sp.GetRequiredService<RedisGuard>(),
            sp.GetRequiredService<RedisKeys>(),
            sp.GetRequiredService<NodeDelivery>(),
            Options(sp).CommandTimeoutMilliseconds,
            sp.GetRequiredService<RedisRelayMetrics>(),
            Logger(sp)));
        services.TryAddSingleton(sp => new RedisMessagePublisher(
            sp.GetRequiredService<PublishScript>(),
            sp.GetRequiredService<GroupSubscriptions>(),
            sp.GetRequiredService<EchoTracker>(),
            sp.GetRequiredService<NodeDelivery>(),
            sp.GetRequiredService<RedisKeys>(),
            sp.GetRequiredService<RedisRelayMetrics>()));
        services.TryAddSingleton(sp => new RedisMembershipChanges(
            sp.GetRequiredService<RedisGuard>(),
            sp.GetRequiredService<RedisConnection>(),
            sp.GetRequiredService<MembershipAcks>(),
            sp.GetRequiredService<NodeDelivery>(),
            sp.GetRequiredService<RedisRelayMetrics>(),
            Logger(sp)));
        services.TryAddSingleton(sp => new RedisStreamPositions(sp.GetRequiredService<RedisGuard>(), sp.GetRequiredService<RedisKeys>(), sp.GetRequiredService<NodeDelivery>()));
        services.TryAddSingleton(sp => new RedisGroupHistory(sp.GetRequiredService<RedisGuard>(), sp.GetRequiredService<RedisKeys>(), sp.GetRequiredService<NodeDelivery>()));
        services.Replace(ServiceDescriptor.Singleton<IRelayBackplane>(sp => new RedisRelayBackplane(
            sp.GetRequiredService<RedisMessagePublisher>(),
            sp.GetRequiredService<RedisStreamPositions>(),
            sp.GetRequiredService<RedisGroupHistory>(),
            sp.GetRequiredService<RedisAnnouncer>(),
            sp.GetRequiredService<RedisMembershipChanges>(),
            sp.GetRequiredService<RedisConnection>())));
        services.TryAddSingleton(sp => new GroupStreamCatchUp(
            sp.GetRequiredService<RedisGuard>(),
            sp.GetRequiredService<RedisKeys>(),
            sp.GetRequiredService<NodeDelivery>(),
            sp.GetRequiredService<EchoTracker>(),
            sp.GetRequiredService<RedisRelayMetrics>(),
            Logger(sp)));
        services.TryAddSingleton(sp => new GroupMessageReceiver(
            sp.GetRequiredService<GroupSubscriptions>(),
            sp.GetRequiredService<NodeDelivery>(),
            sp.GetRequiredService<GroupStreamCatchUp>(),
            sp.GetRequiredService<RedisConnection>(),
            sp.GetRequiredService<RedisRelayMetrics>(),
            Logger(sp)));
        services.TryAddSingleton(sp => new RedisEventsChannel(
            sp.GetRequiredService<RedisConnection>(),
            sp.GetRequiredService<RedisGuard>(),
            sp.GetRequiredService<NodeDelivery>(),
            sp.GetRequiredService<MembershipAcks>(),
            sp.GetRequiredService<RedisRelayMetrics>(),
            Logger(sp)));

        // The node's life: heartbeat, reaper, resync.
        services.TryAddSingleton(sp => new RedisNodeEntries(
            sp.GetRequiredService<RedisConnection>(),
            sp.GetRequiredService<InMemoryPresenceRegistry>(),
            sp.GetRequiredService<InMemoryGroupDirectory>()));
        services.TryAddSingleton(sp => new NodeResync(
            sp.GetRequiredService<SharedExclusiveGate>(),
            sp.GetRequiredService<RedisConnection>(),
            sp.GetRequiredService<RedisNodeEntries>(),
            sp.GetRequiredService<GroupSubscriptions>(),
            sp.GetRequiredService<RedisEventsChannel>(),
            sp.GetRequiredService<RedisAnnouncer>()));
        services.TryAddSingleton(sp => new NodeHeartbeat(
            sp.GetRequiredService<RedisConnection>(),
            sp.GetRequiredService<NodeResync>(),
            sp.GetRequiredService<RedisNodeEntries>(),
            sp.GetRequiredService<RedisAnnouncer>(),
            sp.GetRequiredService<RedisRelayMetrics>(),
            Logger(sp)));
        services.TryAddSingleton(sp => new StreamKeyRefresher(sp.GetRequiredService<RedisGuard>(), sp.GetRequiredService<RedisKeys>(), sp.GetRequiredService<InMemoryGroupDirectory>()));
        services.TryAddSingleton(sp => new GroupUpkeep(
            sp.GetRequiredService<GroupSubscriptions>(),
            sp.GetRequiredService<RedisMessagePublisher>(),
            sp.GetRequiredService<NodeDelivery>(),
            sp.GetRequiredService<StreamKeyRefresher>(),
            sp.GetRequiredService<EchoTracker>(),
            sp.GetRequiredService<PublishScript>()));
        services.TryAddSingleton(sp => new RedisRelayHostedService(
            sp.GetRequiredService<RedisConnection>(),
            sp.GetRequiredService<NodeHeartbeat>(),
            sp.GetRequiredService<GroupMessageReceiver>(),
            sp.GetRequiredService<GroupUpkeep>(),
            sp.GetRequiredService<RedisGuard>(),
            Logger(sp)));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, RedisRelayHostedService>(sp => sp.GetRequiredService<RedisRelayHostedService>()));
        return builder;
    }

    private static RedisRelayOptions Options(IServiceProvider services) => services.GetRequiredService<IOptions<RedisRelayOptions>>().Value;

    private static GroupRelayOptions RelayOptions(IServiceProvider services) => services.GetRequiredService<IOptions<GroupRelayOptions>>().Value;

    // The relay's clock, as Core takes it: a host (or a test) may register its own TimeProvider.
    private static TimeProvider Clock(IServiceProvider services) => services.GetService<TimeProvider>() ?? TimeProvider.System;

    private static ILogger Logger(IServiceProvider services) => services.GetService<ILoggerFactory>()?.CreateLogger("GroupRelay.Redis") ?? NullLogger.Instance;
}
