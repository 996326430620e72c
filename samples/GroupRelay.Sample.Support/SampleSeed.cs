using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;

namespace GroupRelay.Sample;

/// <summary>
/// The data the sample database is filled with: users, groups with their members, and mutual friendships.
/// Every instance is valid: the factory methods check it and throw <see cref="SampleSeedException"/> otherwise.
/// </summary>
/// <remarks>
/// The JSON form (a seed file given with <c>--seed FILE.json</c>):
/// <code>
/// {
///   "users": ["alice", "bob"],
///   "groups": { "team": ["alice", "bob"] },
///   "friends": [["alice", "bob"]]
/// }
/// </code>
/// <c>users</c> is required and not empty; <c>groups</c> and <c>friends</c> are optional. Every user named in a group
/// or a friendship must be listed in <c>users</c>. Ids are 1 to 128 characters without control characters (the
/// relay's default id bound). Comments and trailing commas are allowed.
/// </remarks>
public sealed class SampleSeed
{
    /// <summary>Longest user or group id accepted (the relay's default <see cref="GroupRelayOptions.MaxIdLength"/>).</summary>
    public const int MaxIdLength = 128;

    private static readonly JsonDocumentOptions JsonOptions = new()
    {
        CommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
    };

    private SampleSeed(IReadOnlyList<string> users, IReadOnlyDictionary<string, IReadOnlyList<string>> groups, IReadOnlyList<SampleFriendship> friends)
    {
        Users = users;
        Groups = groups;
        Friends = friends;
    }

    /// <summary>
    /// The built-in demo data: users alice, bob, carol, dave and erin; groups <c>team</c> (alice, bob, carol),
    /// <c>family</c> (alice, dave) and <c>all</c> (everyone); friends alice-bob, alice-carol, alice-dave, bob-carol
    /// and dave-erin.
    /// </summary>
    public static SampleSeed Demo { get; } = Create(
        new[] { "alice", "bob", "carol", "dave", "erin" },
        new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal)
        {
            ["team"] = new[] { "alice", "bob", "carol" },
            ["family"] = new[] { "alice", "dave" },
            ["all"] = new[] { "alice", "bob", "carol", "dave", "erin" },
        },
        new[]
        {
            new SampleFriendship("alice", "bob"),
            new SampleFriendship("alice", "carol"),
            new SampleFriendship("alice", "dave"),
            new SampleFriendship("bob", "carol"),
            new SampleFriendship("dave", "erin"),
        });

    /// <summary>The users, in the order given.</summary>
    public IReadOnlyList<string> Users { get; }

    /// <summary>The groups and their members.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> Groups { get; }

    /// <summary>The mutual friendships, each pair once.</summary>
    public IReadOnlyList<SampleFriendship> Friends { get; }

    /// <summary>Builds a seed from code, with the same checks as <see cref="Parse"/>.</summary>
    /// <param name="users">The users.</param>
    /// <param name="groups">The groups and their members.</param>
    /// <param name="friends">The friendships.</param>
    /// <returns>The seed.</returns>
    /// <exception cref="SampleSeedException">The data is invalid; the message names every problem.</exception>
    public static SampleSeed Create(IEnumerable<string> users, IReadOnlyDictionary<string, IReadOnlyList<string>> groups, IEnumerable<SampleFriendship> friends)
    {
        ArgumentNullException.ThrowIfNull(users);
        ArgumentNullException.ThrowIfNull(groups);
        ArgumentNullException.ThrowIfNull(friends);
        var problems = new List<string>();
        SampleSeed seed = Validate(
            users.Select((u, i) => ($"users[{i}]", u)).ToList(),
            groups.Select(g => ($"groups.{g.Key}", g.Key, (IReadOnlyList<(string, string)>)g.Value.Select((m, i) => ($"groups.{g.Key}[{i}]", m)).ToList())).ToList(),
            friends.Select((f, i) => ($"friends[{i}]", f)).ToList(),
            problems);
        return problems.Count == 0 ? seed : throw new SampleSeedException(null, problems);
    }

    /// <summary>Reads a seed file.</summary>
    /// <param name="path">The file's path.</param>
    /// <returns>The seed.</returns>
    /// <exception cref="SampleSeedException">The file cannot be read, is not JSON, or its data is invalid.</exception>
    public static SampleSeed Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string json;
        try
        {
            json = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            throw new SampleSeedException(path, new[] { $"it cannot be read: {ex.Message}" }, ex);
        }

        return Parse(json, path);
    }

    /// <summary>Parses the JSON form of a seed (see the remarks of <see cref="SampleSeed"/>).</summary>
    /// <param name="json">The JSON text.</param>
    /// <param name="source">Where the text comes from (a file path), used in error messages; null for none.</param>
    /// <returns>The seed.</returns>
    /// <exception cref="SampleSeedException">The text is not JSON or its data is invalid; the message names every problem.</exception>
    public static SampleSeed Parse(string json, string? source = null)
    {
        ArgumentNullException.ThrowIfNull(json);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, JsonOptions);
        }
        catch (JsonException ex)
        {
            throw new SampleSeedException(source, new[] { $"it is not valid JSON ({ex.Message})" }, ex);
        }

        using (document)
        {
            var problems = new List<string>();
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new SampleSeedException(source, new[] { $"the top level must be an object like {{\"users\":[...],\"groups\":{{...}},\"friends\":[...]}}, not {Describe(root)}" });
            }

            var users = new List<(string, string)>();
            var groups = new List<(string, string, IReadOnlyList<(string, string)>)>();
            var friends = new List<(string, SampleFriendship)>();
            bool sawUsers = false;
            foreach (JsonProperty property in root.EnumerateObject())
            {
                switch (property.Name)
                {
                    case "users":
                        sawUsers = true;
                        ReadStrings(property.Value, "users", users, problems);
                        break;
                    case "groups":
                        ReadGroups(property.Value, groups, problems);
                        break;
                    case "friends":
                        ReadFriends(property.Value, friends, problems);
                        break;
                    default:
                        problems.Add($"unknown property '{property.Name}' (expected \"users\", \"groups\" and \"friends\")");
                        break;
                }
            }

            if (!sawUsers)
            {
                problems.Add("\"users\" is missing: list every user, for example \"users\": [\"alice\", \"bob\"]");
            }

            SampleSeed seed = Validate(users, groups, friends, problems);
            return problems.Count == 0 ? seed : throw new SampleSeedException(source, problems);
        }
    }

    private static void ReadStrings(JsonElement array, string path, List<(string, string)> into, List<string> problems)
    {
        if (array.ValueKind != JsonValueKind.Array)
        {
            problems.Add($"\"{path}\" must be an array of strings, not {Describe(array)}");
            return;
        }

        int i = 0;
        foreach (JsonElement item in array.EnumerateArray())
        {
            if (item.ValueKind == JsonValueKind.String)
            {
                into.Add(($"{path}[{i}]", item.GetString()!));
            }
            else
            {
                problems.Add($"{path}[{i}] must be a string, not {Describe(item)}");
            }

            i++;
        }
    }

    private static void ReadGroups(JsonElement groups, List<(string, string, IReadOnlyList<(string, string)>)> into, List<string> problems)
    {
        if (groups.ValueKind != JsonValueKind.Object)
        {
            problems.Add($"\"groups\" must be an object mapping each group to its members, like {{\"team\": [\"alice\", \"bob\"]}}, not {Describe(groups)}");
            return;
        }

        foreach (JsonProperty group in groups.EnumerateObject())
        {
            var members = new List<(string, string)>();
            ReadStrings(group.Value, $"groups.{group.Name}", members, problems);
            into.Add(($"groups.{group.Name}", group.Name, members));
        }
    }

    private static void ReadFriends(JsonElement friends, List<(string, SampleFriendship)> into, List<string> problems)
    {
        if (friends.ValueKind != JsonValueKind.Array)
        {
            problems.Add($"\"friends\" must be an array of pairs, like [[\"alice\", \"bob\"]], not {Describe(friends)}");
            return;
        }

        int i = 0;
        foreach (JsonElement pair in friends.EnumerateArray())
        {
            if (pair.ValueKind == JsonValueKind.Array && pair.GetArrayLength() == 2
                && pair[0].ValueKind == JsonValueKind.String && pair[1].ValueKind == JsonValueKind.String)
            {
                into.Add(($"friends[{i}]", new SampleFriendship(pair[0].GetString()!, pair[1].GetString()!)));
            }
            else
            {
                problems.Add($"friends[{i}] must be a pair of user ids like [\"alice\", \"bob\"], not {Describe(pair)}");
            }

            i++;
        }
    }

    // Checks the data however it was given (JSON or code); paths name each item the way the JSON form would.
    private static SampleSeed Validate(
        IReadOnlyList<(string Path, string Id)> users,
        IReadOnlyList<(string Path, string Id, IReadOnlyList<(string Path, string Id)> Members)> groups,
        IReadOnlyList<(string Path, SampleFriendship Pair)> friends,
        List<string> problems)
    {
        var userSet = new HashSet<string>(StringComparer.Ordinal);
        var userList = new List<string>(users.Count);
        foreach ((string path, string id) in users)
        {
            if (CheckId(path, "user", id, problems))
            {
                if (userSet.Add(id))
                {
                    userList.Add(id);
                }
                else
                {
                    problems.Add($"{path}: user '{id}' is listed twice");
                }
            }
        }

        if (users.Count == 0 && !problems.Exists(p => p.StartsWith("\"users\"", StringComparison.Ordinal)))
        {
            problems.Add("\"users\" is empty: the sample needs at least one user to log in as");
        }

        var groupMap = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        foreach ((string path, string id, IReadOnlyList<(string Path, string Id)> members) in groups)
        {
            if (!CheckId(path, "group", id, problems))
            {
                continue;
            }

            var memberSet = new HashSet<string>(StringComparer.Ordinal);
            var memberList = new List<string>(members.Count);
            foreach ((string memberPath, string member) in members)
            {
                if (!userSet.Contains(member))
                {
                    problems.Add($"{memberPath}: unknown user '{member}' in group '{id}' (add it to \"users\")");
                }
                else if (!memberSet.Add(member))
                {
                    problems.Add($"{memberPath}: user '{member}' is listed twice in group '{id}'");
                }
                else
                {
                    memberList.Add(member);
                }
            }

            groupMap[id] = memberList;
        }

        var pairs = new HashSet<(string, string)>();
        var friendList = new List<SampleFriendship>(friends.Count);
        foreach ((string path, SampleFriendship pair) in friends)
        {
            bool known = true;
            foreach (string user in new[] { pair.User, pair.Friend })
            {
                if (!userSet.Contains(user))
                {
                    problems.Add($"{path}: unknown user '{user}' in a friendship (add it to \"users\")");
                    known = false;
                }
            }

            if (!known)
            {
                continue;
            }

            if (string.Equals(pair.User, pair.Friend, StringComparison.Ordinal))
            {
                problems.Add($"{path}: '{pair.User}' cannot be its own friend");
                continue;
            }

            // Friendship is mutual: [a, b] and [b, a] are the same pair, kept once.
            var key = string.CompareOrdinal(pair.User, pair.Friend) < 0 ? (pair.User, pair.Friend) : (pair.Friend, pair.User);
            if (pairs.Add(key))
            {
                friendList.Add(pair);
            }
        }

        return new SampleSeed(userList, groupMap, friendList);
    }

    private static bool CheckId(string path, string kind, string id, List<string> problems)
    {
        if (id.Length == 0)
        {
            problems.Add($"{path}: a {kind} id cannot be empty");
            return false;
        }

        if (id.Length > MaxIdLength)
        {
            problems.Add($"{path}: {kind} id '{id[..20]}...' is {id.Length} characters long; the limit is {MaxIdLength}");
            return false;
        }

        if (id.Any(char.IsControl))
        {
            problems.Add($"{path}: {kind} id '{id}' contains a control character");
            return false;
        }

        return true;
    }

    private static string Describe(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => $"an array of {element.GetArrayLength()}",
        JsonValueKind.String => $"the string \"{element.GetString()}\"",
        JsonValueKind.Number => $"the number {element.GetRawText()}",
        JsonValueKind.True or JsonValueKind.False => element.GetRawText(),
        _ => "null",
    };
}
