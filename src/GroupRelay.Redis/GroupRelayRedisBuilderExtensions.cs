using System;
using System.IO;
using System.Threading.Tasks;
using GroupRelay;
using GroupRelay.Internal;
using GroupRelay.Redis;
using GroupRelay.ScaleOut;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
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

    // Every overload funnels here: one place replaces the in-process defaults.
    private static IGroupRelayBuilder AddRedisCore(this IGroupRelayBuilder builder, Action<RedisRelayOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        IServiceCollection services = builder.Services;
        services.AddOptions<RedisRelayOptions>().Configure(configure).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<RedisRelayOptions>, RedisRelayOptionsValidator>());
        services.TryAddSingleton<RedisRelayNode>();
        services.Replace(ServiceDescriptor.Singleton<IPresenceRegistry>(sp => new RedisPresenceRegistry(sp.GetRequiredService<RedisRelayNode>())));
        services.Replace(ServiceDescriptor.Singleton<IGroupDirectory>(sp => new RedisGroupDirectory(sp.GetRequiredService<RedisRelayNode>())));
        services.Replace(ServiceDescriptor.Singleton<IRelayBackplane>(sp => new RedisRelayBackplane(sp.GetRequiredService<RedisRelayNode>(), sp.GetRequiredService<RelayLocalDelivery>())));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, RedisRelayHostedService>());
        return builder;
    }
}
