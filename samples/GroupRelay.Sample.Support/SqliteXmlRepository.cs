using System;
using System.Collections.Generic;
using System.Globalization;
using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection.Repositories;
using Microsoft.Data.Sqlite;

namespace GroupRelay.Sample;

/// <summary>
/// Keeps the ASP.NET Core Data Protection key ring in the sample database (table <c>data_protection_keys</c>), so
/// tokens survive a restart and every process sharing the database accepts the tokens of the others.
/// </summary>
/// <remarks>
/// Data Protection calls this rarely (at start-up, and when a key is created or revoked), through a synchronous
/// interface, so the calls are synchronous too. Keys are stored unencrypted, like the file system repository does
/// on Linux without a configured encryptor: the database file must be protected like a secret. Register it with
/// <see cref="SampleDataProtectionExtensions.PersistKeysToSampleDatabase"/>.
/// </remarks>
public sealed class SqliteXmlRepository : IXmlRepository
{
    private readonly SampleDatabase _database;

    /// <summary>Creates the repository over a database (whose schema <see cref="SampleDatabase.InitializeAsync"/> created).</summary>
    /// <param name="database">The sample database.</param>
    public SqliteXmlRepository(SampleDatabase database)
    {
        ArgumentNullException.ThrowIfNull(database);
        _database = database;
    }

    /// <inheritdoc />
    public IReadOnlyCollection<XElement> GetAllElements()
    {
        var elements = new List<XElement>();
        using SqliteConnection connection = _database.Open();
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = "SELECT xml FROM data_protection_keys ORDER BY created_utc, friendly_name;";
        using SqliteDataReader reader = command.ExecuteReader();
        while (reader.Read())
        {
            elements.Add(XElement.Parse(reader.GetString(0)));
        }

        return elements;
    }

    /// <inheritdoc />
    public void StoreElement(XElement element, string friendlyName)
    {
        ArgumentNullException.ThrowIfNull(element);
        ArgumentException.ThrowIfNullOrEmpty(friendlyName);
        using SqliteConnection connection = _database.Open();
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = "INSERT OR REPLACE INTO data_protection_keys (friendly_name, xml, created_utc) VALUES ($name, $xml, $created);";
        command.Parameters.AddWithValue("$name", friendlyName);
        command.Parameters.AddWithValue("$xml", element.ToString(SaveOptions.DisableFormatting));
        command.Parameters.AddWithValue("$created", DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture));
        command.ExecuteNonQuery();
    }
}
