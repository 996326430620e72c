using System;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.DependencyInjection;

namespace GroupRelay.Sample;

/// <summary>Registers <see cref="SampleTokenService"/>.</summary>
public static class SampleTokenServiceExtensions
{
    /// <summary>
    /// Adds <see cref="SampleTokenService"/> as a singleton over the registered Data Protection provider (add it with
    /// <see cref="SampleDataProtectionExtensions.AddSampleDataProtection"/>) and the registered
    /// <see cref="TimeProvider"/>, if any.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="lifetime">How long an issued token is valid; default <see cref="SampleTokenService.DefaultLifetime"/>.</param>
    /// <returns>The service collection.</returns>
    public static IServiceCollection AddSampleTokens(this IServiceCollection services, TimeSpan? lifetime = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddSingleton(provider => new SampleTokenService(
            provider.GetRequiredService<IDataProtectionProvider>(),
            lifetime,
            provider.GetService<TimeProvider>()));
        return services;
    }
}
