using System;
using System.IO;
using Microsoft.Extensions.Logging;

namespace GroupRelay.Sample;

/// <summary>The start-up log lines every sample host writes about its database. None of them ever holds a token.</summary>
public static partial class SampleStartupLog
{
    /// <summary>
    /// Says what <see cref="SampleDatabase.InitializeAsync"/> did (replaced the data with a seed file, or created a
    /// new file with the demo data) and that the token signing keys are kept unencrypted in the file.
    /// </summary>
    /// <param name="logger">Where to log.</param>
    /// <param name="database">The database.</param>
    /// <param name="seedPath">The seed file given on the command line, or null.</param>
    /// <param name="seed">The seed loaded from <paramref name="seedPath"/>, or null.</param>
    /// <param name="written">What <see cref="SampleDatabase.InitializeAsync"/> returned.</param>
    public static void DatabaseOpened(ILogger logger, SampleDatabase database, string? seedPath, SampleSeed? seed, bool written)
    {
        ArgumentNullException.ThrowIfNull(logger);
        ArgumentNullException.ThrowIfNull(database);
        if (!logger.IsEnabled(LogLevel.Information))
        {
            return;
        }

        if (seed is not null && seedPath is not null)
        {
            string seedFile = Path.GetFullPath(seedPath);
            Reseeded(logger, database.Path, seedFile, seed.Users.Count, seed.Groups.Count);
        }
        else if (written)
        {
            CreatedWithDemoData(logger, database.Path);
        }

        KeysUnencrypted(logger, database.Path);
    }

    [LoggerMessage(EventId = 9002, Level = LogLevel.Information, Message = "Created {Database} with the demo data: users alice, bob, carol, dave, erin; groups team, family, all.")]
    private static partial void CreatedWithDemoData(ILogger logger, string database);

    [LoggerMessage(EventId = 9003, Level = LogLevel.Information, Message = "Replaced the data in {Database} with {SeedFile}: {Users} users, {Groups} groups.")]
    private static partial void Reseeded(ILogger logger, string database, string seedFile, int users, int groups);

    [LoggerMessage(EventId = 9006, Level = LogLevel.Information, Message = "Token signing keys are kept unencrypted in {Database} (sample only): anyone who can read the file can mint tokens.")]
    private static partial void KeysUnencrypted(ILogger logger, string database);
}
