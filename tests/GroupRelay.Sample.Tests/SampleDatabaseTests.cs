using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;
using FluentAssertions;
using Microsoft.Data.Sqlite;
using Xunit;

namespace GroupRelay.Sample.Tests;

public sealed class SampleDatabaseTests
{
    [Fact]
    public async Task NewDatabase_IsSeededWithTheDemoData()
    {
        var db = new SampleDatabase(TempDatabase.NewPath());

        (await db.InitializeAsync(replaceWith: null)).Should().BeTrue();

        (await db.GetUsersAsync()).Should().Equal("alice", "bob", "carol", "dave", "erin");
        (await db.GetGroupsAsync()).Should().Equal("all", "family", "team");
        (await db.GetGroupMembersAsync("team")).Should().Equal("alice", "bob", "carol");
        (await db.GetGroupMembersAsync("family")).Should().Equal("alice", "dave");
        (await db.GetGroupMembersAsync("all")).Should().Equal("alice", "bob", "carol", "dave", "erin");
        (await db.GetFriendsOfAsync("alice")).Should().Equal("bob", "carol", "dave");
        (await db.GetFriendsOfAsync("bob")).Should().Equal("alice", "carol");
        (await db.GetFriendsOfAsync("erin")).Should().Equal("dave");
    }

    [Fact]
    public async Task MembershipSource_AnswersFromTheDatabase()
    {
        var db = new SampleDatabase(TempDatabase.NewPath());
        await db.InitializeAsync(null);
        var source = new SqliteMembershipSource(db);

        (await source.GetGroupsAsync("alice")).Should().Equal("all", "family", "team");
        (await source.GetGroupsAsync("erin")).Should().Equal("all");
        (await source.GetContactsAsync("dave")).Should().Equal("alice", "erin");
        (await FluentActions.Awaiting(() => source.GetGroupsAsync("nobody").AsTask()).Should().ThrowAsync<UnknownUserException>())
            .Which.UserId.Should().Be("nobody", "a user the database does not know is refused, not welcomed with no groups");
        (await source.GetContactsAsync("nobody")).Should().BeEmpty();
    }

    [Fact]
    public async Task MembershipSource_QueriesOnEveryCall_SoDatabaseChangesShowAtOnce()
    {
        var db = new SampleDatabase(TempDatabase.NewPath());
        await db.InitializeAsync(null);
        var source = new SqliteMembershipSource(db);
        (await source.GetGroupsAsync("erin")).Should().Equal("all");

        // Another process (or an admin with the sqlite3 shell) changes the data behind the source's back.
        using (SqliteConnection connection = db.Open())
        using (SqliteCommand command = connection.CreateCommand())
        {
            command.CommandText = "INSERT INTO group_members (group_id, user_id) VALUES ('family', 'erin'); INSERT INTO friends VALUES ('erin', 'bob'), ('bob', 'erin');";
            command.ExecuteNonQuery();
        }

        (await source.GetGroupsAsync("erin")).Should().Equal("all", "family");
        (await source.GetContactsAsync("erin")).Should().Equal("bob", "dave");
    }

    [Fact]
    public async Task Initialize_OnAnExistingDatabase_KeepsItsData()
    {
        string path = TempDatabase.NewPath();
        var db = new SampleDatabase(path);
        await db.InitializeAsync(null);
        using (SqliteConnection connection = db.Open())
        using (SqliteCommand command = connection.CreateCommand())
        {
            command.CommandText = "DELETE FROM users WHERE id = 'erin';";
            command.ExecuteNonQuery();
        }

        (await new SampleDatabase(path).InitializeAsync(null)).Should().BeFalse();

        (await db.GetUsersAsync()).Should().Equal("alice", "bob", "carol", "dave");
        (await db.GetGroupMembersAsync("all")).Should().NotContain("erin", "the cascade removed her memberships");
    }

    [Fact]
    public async Task Initialize_WithASeed_ReplacesUsersGroupsAndFriends_ButKeepsTheKeyRing()
    {
        string path = TempDatabase.NewPath();
        var db = new SampleDatabase(path);
        await db.InitializeAsync(null);
        new SqliteXmlRepository(db).StoreElement(new System.Xml.Linq.XElement("key", "k1"), "key-1");

        SampleSeed seed = SampleSeed.Parse("""{"users":["zoe","yann"],"groups":{"ops":["zoe","yann"]},"friends":[["yann","zoe"]]}""");
        (await db.InitializeAsync(seed)).Should().BeTrue();

        (await db.GetUsersAsync()).Should().Equal("yann", "zoe");
        (await db.GetGroupsAsync()).Should().Equal("ops");
        (await db.GetFriendsOfAsync("zoe")).Should().Equal("yann");
        (await db.UserExistsAsync("alice")).Should().BeFalse();
        new SqliteXmlRepository(db).GetAllElements().Select(e => e.Value).Should().Equal("k1");
    }

    [Fact]
    public async Task XmlRepository_RoundTripsElements_AcrossInstances()
    {
        var db = new SampleDatabase(TempDatabase.NewPath());
        await db.InitializeAsync(null);
        new SqliteXmlRepository(db).StoreElement(new System.Xml.Linq.XElement("key", new System.Xml.Linq.XAttribute("id", "a")), "key-a");
        new SqliteXmlRepository(db).StoreElement(new System.Xml.Linq.XElement("key", new System.Xml.Linq.XAttribute("id", "b")), "key-b");

        new SqliteXmlRepository(new SampleDatabase(db.Path)).GetAllElements()
            .Select(e => (string?)e.Attribute("id")).Should().BeEquivalentTo(new[] { "a", "b" });
    }

    [Fact]
    public void Seed_Parse_AcceptsTheDocumentedFormat_AndKeepsMutualPairsOnce()
    {
        SampleSeed seed = SampleSeed.Parse("""
            // comments and trailing commas are fine in a hand-written file
            {"users":["alice","bob","carol"],"groups":{"team":["alice","bob"],"empty":[]},"friends":[["alice","bob"],["bob","alice"],],}
            """);

        seed.Users.Should().Equal("alice", "bob", "carol");
        seed.Groups.Keys.Should().BeEquivalentTo(new[] { "team", "empty" });
        seed.Groups["team"].Should().Equal("alice", "bob");
        seed.Friends.Should().ContainSingle().Which.Should().Be(new SampleFriendship("alice", "bob"));
    }

    public static IEnumerable<object[]> InvalidSeeds() => new[]
    {
        new object[] { """{"users":["alice","bob"],"groups":{"team":["alice","zed"]}}""", "groups.team[1]: unknown user 'zed' in group 'team'" },
        new object[] { """{"users":["alice"],"friends":[["alice","zed"]]}""", "friends[0]: unknown user 'zed' in a friendship" },
        new object[] { """{"users":["alice"],"friends":[["alice","alice"]]}""", "'alice' cannot be its own friend" },
        new object[] { """{"users":["alice"],"friends":[["alice"]]}""", "friends[0] must be a pair of user ids" },
        new object[] { """{"users":["alice", "alice"]}""", "users[1]: user 'alice' is listed twice" },
        new object[] { """{"users":["alice", 7]}""", "users[1] must be a string, not the number 7" },
        new object[] { """{"users":["alice", ""]}""", "users[1]: a user id cannot be empty" },
        new object[] { """{"users":[]}""", "\"users\" is empty" },
        new object[] { """{"groups":{}}""", "\"users\" is missing" },
        new object[] { """{"users":["alice"],"group":{}}""", "unknown property 'group'" },
        new object[] { """{"users":["alice"],"groups":["team"]}""", "\"groups\" must be an object" },
        new object[] { """["alice"]""", "the top level must be an object" },
        new object[] { """{"users":["alice"]""", "is not valid JSON" },
        new object[] { "", "is not valid JSON" },
    };

    [Theory]
    [MemberData(nameof(InvalidSeeds))]
    public void Seed_Parse_RejectsInvalidData_WithAMessageNamingTheProblem(string json, string expected)
    {
        Action parse = () => SampleSeed.Parse(json, "seed.json");

        parse.Should().Throw<SampleSeedException>()
            .Which.Message.Should().Contain("seed.json").And.Contain(expected);
    }

    [Fact]
    public void Seed_Parse_ListsEveryProblem()
    {
        Action parse = () => SampleSeed.Parse("""{"users":["alice"],"groups":{"team":["bob"]},"friends":[["alice","carol"]]}""");

        parse.Should().Throw<SampleSeedException>().Which.Problems.Should().HaveCount(2);
    }

    [Fact]
    public void Seed_Load_MissingFile_NamesTheFile()
    {
        Action load = () => SampleSeed.Load("/nonexistent/seed.json");

        load.Should().Throw<SampleSeedException>().WithMessage("*'/nonexistent/seed.json'*cannot be read*");
    }

    [Fact]
    public void Seed_Demo_IsTheDocumentedData()
    {
        SampleSeed.Demo.Users.Should().Equal("alice", "bob", "carol", "dave", "erin");
        SampleSeed.Demo.Groups["team"].Should().Equal("alice", "bob", "carol");
        SampleSeed.Demo.Friends.Should().HaveCount(5);
    }
}
