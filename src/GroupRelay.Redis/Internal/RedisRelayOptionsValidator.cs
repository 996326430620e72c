using System;
using System.Collections.Generic;
using System.Linq;
using GroupRelay.Redis;
using Microsoft.Extensions.Options;

namespace GroupRelay.Internal;

/// <summary>Validates <see cref="RedisRelayOptions"/> at start-up; each failure names the option.</summary>
/// <remarks>Thread-safety: stateless.</remarks>
internal sealed class RedisRelayOptionsValidator : IValidateOptions<RedisRelayOptions>
{
    public ValidateOptionsResult Validate(string? name, RedisRelayOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        if (options.Configuration is null && options.ConnectionFactory is null)
        {
            failures.Add("RedisRelayOptions.Configuration is not set: call AddRedis(\"host:port\"), AddRedis(ConfigurationOptions) or AddRedis(IConnectionMultiplexer).");
        }

        if (string.IsNullOrEmpty(options.Prefix) || options.Prefix.Length > 64 || !options.Prefix.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_'))
        {
            failures.Add($"RedisRelayOptions.Prefix must be 1 to 64 letters, digits, '.', '-' or '_'; it is '{options.Prefix}'.");
        }

        if (options.HeartbeatInterval < TimeSpan.FromMilliseconds(50) || options.HeartbeatInterval > TimeSpan.FromMinutes(1))
        {
            failures.Add($"RedisRelayOptions.HeartbeatInterval must be between 50 ms and 1 minute; it is {options.HeartbeatInterval}.");
        }

        if (options.NodeTimeout < options.HeartbeatInterval * 2 || options.NodeTimeout > TimeSpan.FromHours(1))
        {
            failures.Add($"RedisRelayOptions.NodeTimeout must be at least twice HeartbeatInterval ({options.HeartbeatInterval}) and at most 1 hour; it is {options.NodeTimeout}.");
        }

        if (options.EchoTimeout <= TimeSpan.Zero || options.EchoTimeout > TimeSpan.FromMinutes(1))
        {
            failures.Add($"RedisRelayOptions.EchoTimeout must be above zero and at most 1 minute; it is {options.EchoTimeout}.");
        }

        if (options.CommandTimeoutMilliseconds is < 50 or > 60_000)
        {
            failures.Add($"RedisRelayOptions.CommandTimeoutMilliseconds must be between 50 and 60000; it is {options.CommandTimeoutMilliseconds}.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
