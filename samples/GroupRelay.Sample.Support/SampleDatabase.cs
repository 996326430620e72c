using System;
using System.Collections.Generic;
using System.Data;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Data.Sqlite;

namespace GroupRelay.Sample;

/// <summary>
/// The samples' SQLite database: users, groups, group members, mutual friends, and the Data Protection key ring
/// (see <see cref="SqliteXmlRepository"/>). Several processes may share one file (the scale-out samples do).
/// </summary>
/// <remarks>
/// Every method opens its own connection (pooled by Microsoft.Data.Sqlite) and uses parameterised SQL, so the class
/// is thread-safe and a change made by another process is seen by the next call. The file is in WAL mode so readers
/// do not wait for a writer.
/// </remarks>
/// <example>
/// <code>
/// var db = new SampleDatabase("grouprelay-sample.db");
/// await db.InitializeAsync(replaceWith: null);       // creates and seeds the demo data on first run
/// IReadOnlyList&lt;string&gt; groups = await db.GetGroupsOfAsync("alice");
/// </code>
/// </example>
public sealed class SampleDatabase
{
    // Schema version kept in PRAGMA user_version: 0 means the file is new (or not ours yet).
    private const int SchemaVersion = 1;

    private const string Schema = """
        CREATE TABLE IF NOT EXISTS users (
            id TEXT NOT NULL PRIMARY KEY
        ) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS groups (
            id TEXT NOT NULL PRIMARY KEY
        ) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS group_members (
            group_id TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
            user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            PRIMARY KEY (group_id, user_id)
        ) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS ix_group_members_user ON group_members (user_id, group_id);
        -- Friendship is mutual: each pair is stored in both directions, so "friends of X" is one indexed lookup.
        CREATE TABLE IF NOT EXISTS friends (
            user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            friend_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            PRIMARY KEY (user_id, friend_id),
            CHECK (user_id <> friend_id)
        ) WITHOUT ROWID;
        -- Every message the relay accepted (stored by SampleMessageStore, an IMessageObserver): the app's own record,
        -- kept after the relay's retention has let a message go. seq restarts with the relay's epoch, so rows are
        -- ordered by id.
        CREATE TABLE IF NOT EXISTS messages (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            group_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            sender TEXT NOT NULL,
            body TEXT NOT NULL,
            stored_utc TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS ix_messages_group ON messages (group_id, id);
        CREATE TABLE IF NOT EXISTS data_protection_keys (
            friendly_name TEXT NOT NULL PRIMARY KEY,
            xml TEXT NOT NULL,
            created_utc TEXT NOT NULL
        );
        """;

    /// <summary>
    /// The database file every sample host uses when none is given, relative to the working directory: hosts started
    /// in the same folder share it (and so accept each other's tokens).
    /// </summary>
    public const string DefaultPath = "grouprelay-sample.db";

    /// <summary>Creates the store for a database file; nothing is opened until the first call.</summary>
    /// <param name="path">The SQLite file; created (with its folder) by <see cref="InitializeAsync"/> when missing.</param>
    public SampleDatabase(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        Path = System.IO.Path.GetFullPath(path);
        ConnectionString = new SqliteConnectionStringBuilder
        {
            DataSource = Path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            ForeignKeys = true,
            DefaultTimeout = 30,
            Pooling = true,
        }.ToString();
    }

    /// <summary>The database file's full path.</summary>
    public string Path { get; }

    /// <summary>The connection string used for every connection.</summary>
    public string ConnectionString { get; }

    /// <summary>
    /// Creates the schema if needed. A new database gets the demo data (<see cref="SampleSeed.Demo"/>); when
    /// <paramref name="replaceWith"/> is given, it replaces the users, groups and friends (the key ring is kept, so
    /// issued tokens stay valid).
    /// </summary>
    /// <param name="replaceWith">Data that replaces the current data, or null to keep it.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>True when data was written (a new database, or a replacement).</returns>
    public async Task<bool> InitializeAsync(SampleSeed? replaceWith, CancellationToken cancellationToken = default)
    {
        string? folder = System.IO.Path.GetDirectoryName(Path);
        if (!string.IsNullOrEmpty(folder))
        {
            Directory.CreateDirectory(folder);
        }

        using SqliteConnection connection = await OpenAsync(cancellationToken).ConfigureAwait(false);

        // WAL lets another process (a second sample host) read while this one writes; it is a property of the file.
        await ExecuteAsync(connection, null, "PRAGMA journal_mode = WAL;", cancellationToken).ConfigureAwait(false);

        // BEGIN IMMEDIATE: two processes starting at once on a new file must not both seed it.
        using SqliteTransaction transaction = connection.BeginTransaction(IsolationLevel.Serializable, deferred: false);
        await ExecuteAsync(connection, transaction, Schema, cancellationToken).ConfigureAwait(false);
        long version = await ScalarAsync(connection, transaction, "PRAGMA user_version;", cancellationToken).ConfigureAwait(false);
        SampleSeed? seed = replaceWith ?? (version == 0 ? SampleSeed.Demo : null);
        if (seed is not null)
        {
            await WriteSeedAsync(connection, transaction, seed, cancellationToken).ConfigureAwait(false);
        }

        if (version != SchemaVersion)
        {
            await ExecuteAsync(connection, transaction, $"PRAGMA user_version = {SchemaVersion};", cancellationToken).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return seed is not null;
    }

    /// <summary>Replaces the users, groups and friends with <paramref name="seed"/> in one transaction.</summary>
    /// <param name="seed">The new data.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>A task that completes when the data is committed.</returns>
    public Task ReplaceDataAsync(SampleSeed seed, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(seed);
        return InitializeAsync(seed, cancellationToken);
    }

    /// <summary>Returns every user id, sorted.</summary>
    /// <param name="cancellationToken">Cancels the query.</param>
    /// <returns>The user ids.</returns>
    public Task<IReadOnlyList<string>> GetUsersAsync(CancellationToken cancellationToken = default)
        => QueryStringsAsync("SELECT id FROM users ORDER BY id;", null, cancellationToken);

    /// <summary>Returns every group id, sorted.</summary>
    /// <param name="cancellationToken">Cancels the query.</param>
    /// <returns>The group ids.</returns>
    public Task<IReadOnlyList<string>> GetGroupsAsync(CancellationToken cancellationToken = default)
        => QueryStringsAsync("SELECT id FROM groups ORDER BY id;", null, cancellationToken);

    /// <summary>Tells whether a user exists.</summary>
    /// <param name="userId">The user id.</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    /// <returns>True when the user is in the database.</returns>
    public async Task<bool> UserExistsAsync(string userId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(userId);
        using SqliteConnection connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = "SELECT EXISTS (SELECT 1 FROM users WHERE id = $user);";
        command.Parameters.AddWithValue("$user", userId);
        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture) == 1;
    }

    /// <summary>Returns the ids of the groups a user belongs to, sorted (empty for an unknown user).</summary>
    /// <param name="userId">The user id.</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    /// <returns>The group ids.</returns>
    public Task<IReadOnlyList<string>> GetGroupsOfAsync(string userId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(userId);
        return QueryStringsAsync("SELECT group_id FROM group_members WHERE user_id = $id ORDER BY group_id;", userId, cancellationToken);
    }

    /// <summary>Returns the members of a group, sorted (empty for an unknown group).</summary>
    /// <param name="groupId">The group id.</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    /// <returns>The user ids.</returns>
    public Task<IReadOnlyList<string>> GetGroupMembersAsync(string groupId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(groupId);
        return QueryStringsAsync("SELECT user_id FROM group_members WHERE group_id = $id ORDER BY user_id;", groupId, cancellationToken);
    }

    /// <summary>Returns a user's friends, sorted (empty for an unknown user). Friendship is mutual.</summary>
    /// <param name="userId">The user id.</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    /// <returns>The friends' user ids.</returns>
    public Task<IReadOnlyList<string>> GetFriendsOfAsync(string userId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(userId);
        return QueryStringsAsync("SELECT friend_id FROM friends WHERE user_id = $id ORDER BY friend_id;", userId, cancellationToken);
    }

    /// <summary>Stores one message the relay accepted (see <c>SampleMessageStore</c>).</summary>
    /// <param name="groupId">The group.</param>
    /// <param name="seq">Its seq in the group's stream.</param>
    /// <param name="sender">The sender's user id.</param>
    /// <param name="bodyJson">The body, compact JSON.</param>
    /// <param name="cancellationToken">Cancels the insert.</param>
    /// <returns>A task that completes when the row is written.</returns>
    public async Task AddMessageAsync(string groupId, long seq, string sender, string bodyJson, CancellationToken cancellationToken = default)
    {
        using SqliteConnection connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = "INSERT INTO messages (group_id, seq, sender, body, stored_utc) VALUES ($group, $seq, $sender, $body, $at);";
        command.Parameters.AddWithValue("$group", groupId);
        command.Parameters.AddWithValue("$seq", seq);
        command.Parameters.AddWithValue("$sender", sender);
        command.Parameters.AddWithValue("$body", bodyJson);
        command.Parameters.AddWithValue("$at", DateTimeOffset.UtcNow.ToString("O", System.Globalization.CultureInfo.InvariantCulture));
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The newest stored messages of a group older than row <paramref name="beforeId"/>, oldest first.</summary>
    /// <param name="groupId">The group.</param>
    /// <param name="beforeId">Only rows with a smaller id (null: the newest).</param>
    /// <param name="limit">At most this many.</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    /// <returns>The rows, oldest first.</returns>
    public async Task<IReadOnlyList<StoredMessage>> GetMessagesAsync(string groupId, long? beforeId, int limit, CancellationToken cancellationToken = default)
    {
        using SqliteConnection connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = "SELECT id, seq, sender, body, stored_utc FROM messages WHERE group_id = $group AND id < $before ORDER BY id DESC LIMIT $limit;";
        command.Parameters.AddWithValue("$group", groupId);
        command.Parameters.AddWithValue("$before", beforeId ?? long.MaxValue);
        command.Parameters.AddWithValue("$limit", limit);
        var rows = new List<StoredMessage>();
        using SqliteDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            rows.Add(new StoredMessage(reader.GetInt64(0), reader.GetInt64(1), reader.GetString(2), reader.GetString(3), reader.GetString(4)));
        }

        rows.Reverse();
        return rows;
    }

    /// <summary>Opens a new connection to the database (the caller disposes it).</summary>
    /// <returns>An open connection.</returns>
    public SqliteConnection Open()
    {
        var connection = new SqliteConnection(ConnectionString);
        connection.Open();
        return connection;
    }

    /// <summary>Opens a new connection to the database asynchronously (the caller disposes it).</summary>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>An open connection.</returns>
    public async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken = default)
    {
        var connection = new SqliteConnection(ConnectionString);
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    private async Task<IReadOnlyList<string>> QueryStringsAsync(string sql, string? id, CancellationToken cancellationToken)
    {
        using SqliteConnection connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = sql;
        if (id is not null)
        {
            command.Parameters.AddWithValue("$id", id);
        }

        var result = new List<string>();
        using SqliteDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            result.Add(reader.GetString(0));
        }

        return result;
    }

    private static async Task WriteSeedAsync(SqliteConnection connection, SqliteTransaction transaction, SampleSeed seed, CancellationToken cancellationToken)
    {
        await ExecuteAsync(connection, transaction, "DELETE FROM friends; DELETE FROM group_members; DELETE FROM groups; DELETE FROM users;", cancellationToken).ConfigureAwait(false);
        foreach (string user in seed.Users)
        {
            await ExecuteAsync(connection, transaction, "INSERT INTO users (id) VALUES ($a);", cancellationToken, user).ConfigureAwait(false);
        }

        foreach ((string group, IReadOnlyList<string> members) in seed.Groups)
        {
            await ExecuteAsync(connection, transaction, "INSERT INTO groups (id) VALUES ($a);", cancellationToken, group).ConfigureAwait(false);
            foreach (string member in members)
            {
                await ExecuteAsync(connection, transaction, "INSERT INTO group_members (group_id, user_id) VALUES ($a, $b);", cancellationToken, group, member).ConfigureAwait(false);
            }
        }

        foreach (SampleFriendship pair in seed.Friends)
        {
            await ExecuteAsync(connection, transaction, "INSERT OR IGNORE INTO friends (user_id, friend_id) VALUES ($a, $b), ($b, $a);", cancellationToken, pair.User, pair.Friend).ConfigureAwait(false);
        }
    }

    private static async Task ExecuteAsync(SqliteConnection connection, SqliteTransaction? transaction, string sql, CancellationToken cancellationToken, string? a = null, string? b = null)
    {
        using SqliteCommand command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        if (a is not null)
        {
            command.Parameters.AddWithValue("$a", a);
        }

        if (b is not null)
        {
            command.Parameters.AddWithValue("$b", b);
        }

        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static async Task<long> ScalarAsync(SqliteConnection connection, SqliteTransaction transaction, string sql, CancellationToken cancellationToken)
    {
        using SqliteCommand command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture);
    }
}

/// <summary>A message the sample stored when the relay accepted it.</summary>
/// <param name="Id">The row id (the order of storage).</param>
/// <param name="Seq">Its seq in the group's stream (restarts with the relay's epoch).</param>
/// <param name="Sender">The sender.</param>
/// <param name="Body">The body, compact JSON.</param>
/// <param name="StoredUtc">When it was stored, ISO 8601.</param>
public sealed record StoredMessage(long Id, long Seq, string Sender, string Body, string StoredUtc);
