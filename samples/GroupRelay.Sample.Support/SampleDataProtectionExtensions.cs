using System;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.Extensions.DependencyInjection;

namespace GroupRelay.Sample;

/// <summary>Data Protection set up the way every sample host shares it.</summary>
public static class SampleDataProtectionExtensions
{
    /// <summary>
    /// The application name every sample uses. Data Protection isolates applications by this name (by default it is
    /// the content root path), so two hosts started from different folders still accept each other's tokens.
    /// </summary>
    public const string ApplicationName = "GroupRelay.Sample";

    /// <summary>Stores the key ring in the sample database (see <see cref="SqliteXmlRepository"/>).</summary>
    /// <param name="builder">The Data Protection builder.</param>
    /// <param name="database">The sample database.</param>
    /// <returns>The builder.</returns>
    public static IDataProtectionBuilder PersistKeysToSampleDatabase(this IDataProtectionBuilder builder, SampleDatabase database)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(database);
        builder.Services.Configure<KeyManagementOptions>(options => options.XmlRepository = new SqliteXmlRepository(database));
        return builder;
    }

    /// <summary>
    /// Adds Data Protection with the samples' application name and the key ring in the sample database: what a host
    /// needs to issue tokens that other sample hosts on the same database accept.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="database">The sample database.</param>
    /// <returns>The Data Protection builder, for further settings.</returns>
    public static IDataProtectionBuilder AddSampleDataProtection(this IServiceCollection services, SampleDatabase database)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(database);
        return services.AddDataProtection()
            .SetApplicationName(ApplicationName)
            .PersistKeysToSampleDatabase(database);
    }
}
