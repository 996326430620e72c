using System;
using FluentAssertions;
using GroupRelay.Internal;
using Microsoft.Extensions.Options;
using StackExchange.Redis;
using Xunit;

namespace GroupRelay.Redis.Tests;

/// <summary><see cref="RedisRelayOptions.StreamExpiry"/>: its default, and what start-up validation refuses (against <see cref="GroupRelayOptions"/>).</summary>
public sealed class RedisRelayOptionsValidatorTests
{
    [Fact]
    public void StreamExpiry_ByDefault_IsTheLongerOfHistoryAgeAndIdempotencyWindow_PlusFiveMinutes()
    {
        RedisRelayOptionsValidator.StreamExpiry(new RedisRelayOptions(), new GroupRelayOptions()).Should().Be(TimeSpan.FromMinutes(15), "10 minutes of history + 5");
        RedisRelayOptionsValidator.StreamExpiry(new RedisRelayOptions(), new GroupRelayOptions { HistoryMaxAge = TimeSpan.FromMinutes(1), IdempotencyWindow = TimeSpan.FromMinutes(30) })
            .Should().Be(TimeSpan.FromMinutes(35), "an idempotency key names a seq of the epoch: the epoch must outlive it");
        RedisRelayOptionsValidator.StreamExpiry(new RedisRelayOptions { StreamExpiry = TimeSpan.FromHours(2) }, new GroupRelayOptions()).Should().Be(TimeSpan.FromHours(2));
    }

    [Theory]
    [InlineData(null, true)]
    [InlineData(3600, true)]
    [InlineData(601, true)]
    [InlineData(600, false)]
    [InlineData(60, false)]
    [InlineData(31 * 86_400, false)]
    public void StreamExpiry_BelowHistoryAgePlusASecond_OrAboveThirtyDays_IsRefused(int? seconds, bool valid)
    {
        var options = new RedisRelayOptions { Configuration = ConfigurationOptions.Parse("127.0.0.1:6379"), StreamExpiry = seconds is int s ? TimeSpan.FromSeconds(s) : null };

        ValidateOptionsResult result = Validator(new GroupRelayOptions()).Validate(null, options);

        result.Succeeded.Should().Be(valid, result.FailureMessage);
        if (!valid)
        {
            result.FailureMessage.Should().Contain("StreamExpiry");
        }
    }

    [Fact]
    public void StreamExpiry_BelowFourHeartbeats_IsRefused()
    {
        var relay = new GroupRelayOptions { HistoryMaxAge = TimeSpan.FromSeconds(1), IdempotencyWindow = TimeSpan.FromSeconds(1) };
        var options = new RedisRelayOptions { Configuration = ConfigurationOptions.Parse("127.0.0.1:6379"), HeartbeatInterval = TimeSpan.FromSeconds(1), NodeTimeout = TimeSpan.FromSeconds(5), StreamExpiry = TimeSpan.FromSeconds(3) };

        Validator(relay).Validate(null, options).Succeeded.Should().BeFalse("a group with a member online must be refreshed several times per expiry");
        options.StreamExpiry = TimeSpan.FromSeconds(4);
        Validator(relay).Validate(null, options).Succeeded.Should().BeTrue();
    }

    private static RedisRelayOptionsValidator Validator(GroupRelayOptions relay) => new(Options.Create(relay));
}
