using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;
using FluentAssertions;
using GroupRelay.Core.Tests.Infrastructure;
using Xunit;

namespace GroupRelay.Core.Tests;

public sealed class InMemoryGroupDirectoryTests
{
    private const int Tasks = 8;
    private const int OpsPerTask = 10_000;

    [Fact]
    public async Task AddMember_NewGroup_CreatesGroupAndSecondAddReturnsFalse()
    {
        var directory = new InMemoryGroupDirectory();

        (await directory.AddMemberAsync("team", "alice")).Should().BeTrue();
        (await directory.AddMemberAsync("team", "alice")).Should().BeFalse();
        (await directory.AddMemberAsync("team", "bob")).Should().BeTrue();

        directory.GroupCount.Should().Be(1);
        directory.UserCount.Should().Be(2);
        (await directory.GetMembersAsync("team")).Should().BeEquivalentTo("alice", "bob");
        (await directory.GetGroupsAsync("alice")).Should().Equal("team");
        (await directory.IsMemberAsync("team", "alice")).Should().BeTrue();
        (await directory.IsMemberAsync("team", "carol")).Should().BeFalse();
    }

    [Fact]
    public async Task RemoveMember_LastMember_RemovesGroupAndUser()
    {
        var directory = new InMemoryGroupDirectory();
        await directory.AddMemberAsync("team", "alice");

        (await directory.RemoveMemberAsync("team", "alice")).Should().BeTrue();
        (await directory.RemoveMemberAsync("team", "alice")).Should().BeFalse();

        directory.GroupCount.Should().Be(0);
        directory.UserCount.Should().Be(0);
        (await directory.GetMembersAsync("team")).Should().BeEmpty();
        (await directory.GetGroupsAsync("alice")).Should().BeEmpty();
    }

    [Fact]
    public async Task RemoveUser_UserInSomeGroups_ReturnsExactlyItsGroupsAndLeavesOthersUntouched()
    {
        var directory = new InMemoryGroupDirectory();
        for (int i = 0; i < 1000; i++)
        {
            await directory.AddMemberAsync("g" + i, "bob");
        }

        await directory.AddMemberAsync("g1", "alice");
        await directory.AddMemberAsync("solo", "alice");

        IReadOnlyCollection<string> removed = await directory.RemoveUserAsync("alice");

        removed.Should().BeEquivalentTo("g1", "solo");
        directory.GroupCount.Should().Be(1000, "'solo' went with its last member, g1 keeps bob");
        directory.UserCount.Should().Be(1);
        (await directory.GetMembersAsync("g1")).Should().Equal("bob");
        (await directory.GetGroupsAsync("bob")).Should().HaveCount(1000);
        (await directory.RemoveUserAsync("alice")).Should().BeEmpty();
    }

    [Fact]
    public async Task Ids_AreOrdinal_CaseMatters()
    {
        var directory = new InMemoryGroupDirectory();
        await directory.AddMemberAsync("Team", "Alice");

        (await directory.IsMemberAsync("team", "Alice")).Should().BeFalse();
        (await directory.IsMemberAsync("Team", "alice")).Should().BeFalse();
    }

    [Fact]
    public async Task Calls_NullIds_Throw()
    {
        var directory = new InMemoryGroupDirectory();

        await FluentActions.Awaiting(() => directory.AddMemberAsync(null!, "a").AsTask()).Should().ThrowAsync<ArgumentNullException>();
        await FluentActions.Awaiting(() => directory.AddMemberAsync("g", null!).AsTask()).Should().ThrowAsync<ArgumentNullException>();
        await FluentActions.Awaiting(() => directory.RemoveUserAsync(null!).AsTask()).Should().ThrowAsync<ArgumentNullException>();
    }

    [Fact]
    public async Task JoinLeave_ManyUsersOnSharedGroups_InvariantsHoldAndEverythingIsRemovedAtTheEnd()
    {
        var directory = new InMemoryGroupDirectory();
        string[] groups = Enumerable.Range(0, 6).Select(i => "g" + i).ToArray();
        var failures = new List<string>();
        var expected = new HashSet<string>[Tasks];

        // One user per task (the relay serialises the calls of one user); every group is shared by all of them.
        Task[] workers = Enumerable.Range(0, Tasks).Select(t => Task.Run(async () =>
        {
            var random = new Random(2000 + t);
            string me = "u" + t;
            var mine = new HashSet<string>(StringComparer.Ordinal);
            for (int i = 0; i < OpsPerTask; i++)
            {
                string group = groups[random.Next(groups.Length)];
                switch (random.Next(3))
                {
                    case 0:
                        Check(await directory.AddMemberAsync(group, me) == mine.Add(group), $"{me}: AddMember({group})");
                        Check((await directory.GetMembersAsync(group)).Contains(me), $"{me}: members of {group} lack me after AddMember returned");
                        break;
                    case 1:
                        Check(await directory.RemoveMemberAsync(group, me) == mine.Remove(group), $"{me}: RemoveMember({group})");
                        Check(!(await directory.GetMembersAsync(group)).Contains(me), $"{me}: members of {group} hold me after RemoveMember returned");
                        break;
                    default:
                        Check(await directory.IsMemberAsync(group, me) == mine.Contains(group), $"{me}: IsMember({group})");
                        Check((await directory.GetGroupsAsync(me)).ToHashSet().SetEquals(mine), $"{me}: GetGroups disagrees");
                        break;
                }
            }

            expected[t] = mine;
        })).ToArray();

        await Task.WhenAll(workers).WaitAsync(TestTimeouts.Default * 6);
        failures.Should().BeEmpty();

        foreach (string group in groups)
        {
            var members = (await directory.GetMembersAsync(group)).ToHashSet();
            members.Should().BeEquivalentTo(Enumerable.Range(0, Tasks).Where(t => expected[t].Contains(group)).Select(t => "u" + t));
        }

        // Everyone leaves at once: RemoveUser returns exactly each user's groups.
        Task<IReadOnlyCollection<string>>[] leaving = Enumerable.Range(0, Tasks)
            .Select(t => Task.Run(async () => await directory.RemoveUserAsync("u" + t)))
            .ToArray();
        IReadOnlyCollection<string>[] removed = await Task.WhenAll(leaving).WaitAsync(TestTimeouts.Default);
        for (int t = 0; t < Tasks; t++)
        {
            removed[t].Should().BeEquivalentTo(expected[t], $"u{t} was in exactly those groups");
        }

        directory.GroupCount.Should().Be(0);
        directory.UserCount.Should().Be(0);

        void Check(bool condition, string message)
        {
            if (!condition)
            {
                lock (failures)
                {
                    failures.Add(message);
                }
            }
        }
    }

    [Fact]
    public async Task GetMembers_ReadersDuringChurn_NeverSeeAMemberAfterItsRemovalReturned()
    {
        var directory = new InMemoryGroupDirectory();
        await directory.AddMemberAsync("team", "anchor");
        var removedFor = new bool[Tasks];
        int violations = 0;

        Task[] writers = Enumerable.Range(0, Tasks).Select(t => Task.Run(async () =>
        {
            string me = "u" + t;
            for (int i = 0; i < OpsPerTask; i++)
            {
                await directory.AddMemberAsync("team", me);
                await directory.RemoveMemberAsync("team", me);
                if ((await directory.GetMembersAsync("team")).Contains(me))
                {
                    System.Threading.Interlocked.Increment(ref violations);
                }
            }

            System.Threading.Volatile.Write(ref removedFor[t], true);
        })).ToArray();

        // A reader that checks: once a writer finished (its last removal returned), no snapshot holds it.
        Task reader = Task.Run(async () =>
        {
            while (!writers.All(w => w.IsCompleted))
            {
                IReadOnlyList<string> members = await directory.GetMembersAsync("team");
                for (int t = 0; t < Tasks; t++)
                {
                    if (System.Threading.Volatile.Read(ref removedFor[t]) && members.Contains("u" + t))
                    {
                        // The snapshot may have been taken before the flag was read: read again to be sure.
                        if ((await directory.GetMembersAsync("team")).Contains("u" + t))
                        {
                            System.Threading.Interlocked.Increment(ref violations);
                        }
                    }
                }
            }
        });

        await Task.WhenAll(writers.Append(reader)).WaitAsync(TestTimeouts.Default * 6);

        violations.Should().Be(0);
        (await directory.GetMembersAsync("team")).Should().Equal("anchor");
        directory.GroupCount.Should().Be(1);
        directory.UserCount.Should().Be(1);
    }

    [Fact]
    public async Task RemoveMember_LastMemberWhileAnotherUserJoins_TheJoinSurvives()
    {
        var directory = new InMemoryGroupDirectory();
        int lost = 0;

        Task leaver = Task.Run(async () =>
        {
            for (int i = 0; i < OpsPerTask * 2; i++)
            {
                await directory.AddMemberAsync("g", "a");
                await directory.RemoveMemberAsync("g", "a");
            }
        });
        Task joiner = Task.Run(async () =>
        {
            for (int i = 0; i < OpsPerTask * 2; i++)
            {
                await directory.AddMemberAsync("g", "b");
                if (!await directory.IsMemberAsync("g", "b"))
                {
                    System.Threading.Interlocked.Increment(ref lost);
                }

                await directory.RemoveMemberAsync("g", "b");
            }

            await directory.AddMemberAsync("g", "b");
        });

        await Task.WhenAll(leaver, joiner).WaitAsync(TestTimeouts.Default * 6);

        lost.Should().Be(0);
        (await directory.GetMembersAsync("g")).Should().Equal("b");
        directory.GroupCount.Should().Be(1);
        (await directory.GetGroupsAsync("b")).Should().Equal("g");
        (await directory.GetGroupsAsync("a")).Should().BeEmpty();
        directory.UserCount.Should().Be(1);
    }
}
