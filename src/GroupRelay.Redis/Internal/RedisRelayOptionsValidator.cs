using System;
using System.Collections.Generic;
using System.Linq;
using GroupRelay.Redis;
using Microsoft.Extensions.Options;

namespace GroupRelay.Internal;

/// <summary>Validates <see cref="RedisRelayOptions"/> at start-up (some against <see cref="GroupRelayOptions"/>); each failure names the option.</summary>
/// <remarks>Thread-safety: stateless.</remarks>
internal sealed class RedisRelayOptionsValidator : IValidateOptions<RedisRelayOptions>
{
    /// <summary>What <see cref="RedisRelayOptions.StreamExpiry"/> adds, by default, to the longest retention it must outlive.</summary>
    internal static readonly TimeSpan DefaultStreamExpiryMargin = TimeSpan.FromMinutes(5);

    /// <summary>The least it must add when set.</summary>
    internal static readonly TimeSpan MinimumStreamExpiryMargin = TimeSpan.FromSeconds(1);

    private readonly GroupRelayOptions _relay;

    public RedisRelayOptionsValidator(IOptions<GroupRelayOptions> relay) => _relay = relay.Value;

    /// <summary>
    /// The expiry of a group's stream keys: <see cref="RedisRelayOptions.StreamExpiry"/>, or by default the longest of
    /// history's age and the idempotency window (what the keys must outlive) plus <see cref="DefaultStreamExpiryMargin"/>.
    /// </summary>
    public static TimeSpan StreamExpiry(RedisRelayOptions options, GroupRelayOptions relay)
        => options.StreamExpiry ?? Outlives(relay) + DefaultStreamExpiryMargin;

    // Retained messages must stay readable for HistoryMaxAge, and an idempotency key (which names a seq of the current
    // epoch) must never outlive the epoch it names.
    private static TimeSpan Outlives(GroupRelayOptions relay) => relay.HistoryMaxAge > relay.IdempotencyWindow ? relay.HistoryMaxAge : relay.IdempotencyWindow;

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

        if (options.StreamExpiry is TimeSpan expiry)
        {
            TimeSpan least = Outlives(_relay) + MinimumStreamExpiryMargin;
            if (options.HeartbeatInterval * 4 > least)
            {
                least = options.HeartbeatInterval * 4;
            }

            if (expiry < least || expiry > TimeSpan.FromDays(30))
            {
                failures.Add($"RedisRelayOptions.StreamExpiry must be at least {least} (the larger of HistoryMaxAge and IdempotencyWindow plus 1 s, and at least 4 times HeartbeatInterval) and at most 30 days, or null for the default; it is {expiry}.");
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
