using System;
using System.Collections.Generic;
using Microsoft.Extensions.Options;

namespace GroupRelay.Internal;

/// <summary>Validates <see cref="GroupRelayOptions"/> at start-up; each failure names the option and the allowed range.</summary>
internal sealed class GroupRelayOptionsValidator : IValidateOptions<GroupRelayOptions>
{
    public ValidateOptionsResult Validate(string? name, GroupRelayOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        void Range(string option, double value, double min, double max)
        {
            if (double.IsNaN(value) || value < min || value > max)
            {
                failures.Add($"GroupRelayOptions.{option} must be between {min} and {max}; it is {value}.");
            }
        }

        Range(nameof(options.MaxFrameBytes), options.MaxFrameBytes, 256, 16 * 1024 * 1024);
        Range(nameof(options.MaxQueueBytes), options.MaxQueueBytes, 1024, int.MaxValue);
        Range(nameof(options.MaxQueueFrames), options.MaxQueueFrames, 1, 1_000_000);
        Range(nameof(options.SlowConsumerTimeout) + " (seconds)", options.SlowConsumerTimeout.TotalSeconds, 0, 3600);
        if (options.RateLimitEnabled)
        {
            Range(nameof(options.RateLimitPerSecond), options.RateLimitPerSecond, 0.001, 1_000_000);
            Range(nameof(options.RateLimitBurst), options.RateLimitBurst, 1, 1_000_000);
            Range(nameof(options.FloodRejectionsPerSecond), options.FloodRejectionsPerSecond, 1, 1_000_000);
        }

        Range(nameof(options.MaxIdLength), options.MaxIdLength, 1, 4096);
        Range(nameof(options.MaxWatchPerRequest), options.MaxWatchPerRequest, 1, 100_000);
        Range(nameof(options.MaxWatchedUsers), options.MaxWatchedUsers, 1, 1_000_000);
        Range(nameof(options.MaxStatusLength), options.MaxStatusLength, 1, 4096);
        Range(nameof(options.MaxJsonDepth), options.MaxJsonDepth, 2, 1024);
        Range(nameof(options.HistoryMessagesPerGroup), options.HistoryMessagesPerGroup, 0, 1_000_000);
        Range(nameof(options.HistoryMaxAge) + " (seconds)", options.HistoryMaxAge.TotalSeconds, 1, 7 * 86_400);
        Range(nameof(options.HistoryMaxBytes), options.HistoryMaxBytes, 1024, long.MaxValue);
        Range(nameof(options.IdempotencyWindow) + " (seconds)", options.IdempotencyWindow.TotalSeconds, 1, 86_400);
        Range(nameof(options.MaxIdempotencyKeysPerUser), options.MaxIdempotencyKeysPerUser, 1, 1_000_000);
        Range(nameof(options.MembershipTimeout) + " (seconds)", options.MembershipTimeout.TotalSeconds, 0.001, 3600);
        Range(nameof(options.PresencePolicyTimeout) + " (seconds)", options.PresencePolicyTimeout.TotalSeconds, 0.001, 3600);
        Range(nameof(options.MaxConnectionsPerUser), options.MaxConnectionsPerUser, 1, 1_000_000);
        Range(nameof(options.MaxConnectionsPerAddress), options.MaxConnectionsPerAddress, 1, 1_000_000);
        if (options.MaxConnections is int total)
        {
            Range(nameof(options.MaxConnections), total, 1, int.MaxValue);
        }

        Range(nameof(options.MaxGroupsPerUser), options.MaxGroupsPerUser, 1, 10_000_000);
        Range(nameof(options.PresenceGracePeriod) + " (seconds)", options.PresenceGracePeriod.TotalSeconds, 0, 3600);
        Range(nameof(options.MessageFilterTimeout) + " (seconds)", options.MessageFilterTimeout.TotalSeconds, 0.001, 3600);
        Range(nameof(options.MessageObserverQueueCapacity), options.MessageObserverQueueCapacity, 1, 10_000_000);
        Range(nameof(options.CloseTimeout) + " (seconds)", options.CloseTimeout.TotalSeconds, 0.001, 3600);
        Range(nameof(options.KeepAliveInterval) + " (seconds)", options.KeepAliveInterval.TotalSeconds, 0, 3600);
        Range(nameof(options.KeepAliveTimeout) + " (seconds)", options.KeepAliveTimeout.TotalSeconds, 0, 3600);
        if (options.MaxQueueBytes < 2L * options.MaxFrameBytes)
        {
            // A message frame is its body plus the envelope, so one full-size message must fit the queue with room to spare.
            failures.Add($"GroupRelayOptions.MaxQueueBytes ({options.MaxQueueBytes}) must be at least twice GroupRelayOptions.MaxFrameBytes ({options.MaxFrameBytes}), or one full-size message would close every recipient with 4001.");
        }

        if (options.MaxWatchPerRequest > options.MaxWatchedUsers)
        {
            failures.Add($"GroupRelayOptions.MaxWatchPerRequest ({options.MaxWatchPerRequest}) must not exceed GroupRelayOptions.MaxWatchedUsers ({options.MaxWatchedUsers}).");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
