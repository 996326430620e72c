using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

namespace GroupRelay.Specification.Tests;

/// <summary>
/// The membership source every harness gives its server: the test's <see cref="InMemoryMembershipSource"/>, plus
/// faults injected per user (the host's database failing or hanging), so the 1011 rules run on every transport.
/// </summary>
public sealed class TestMembershipSource : IMembershipSource
{
    private readonly ConcurrentDictionary<string, Fault> _faults = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Fault> _contactFaults = new(StringComparer.Ordinal);

    public TestMembershipSource(InMemoryMembershipSource inner) => Inner = inner;

    private enum Fault
    {
        Fail,
        Hang,
    }

    public InMemoryMembershipSource Inner { get; }

    /// <summary>Every call about <paramref name="userId"/> throws from now on.</summary>
    public void FailFor(string userId) => _faults[userId] = Fault.Fail;

    /// <summary>Every call about <paramref name="userId"/> completes only when its cancellation token is cancelled.</summary>
    public void HangFor(string userId) => _faults[userId] = Fault.Hang;

    /// <summary>Only the contacts query about <paramref name="userId"/> throws from now on (its connects still work).</summary>
    public void FailContactsFor(string userId) => _contactFaults[userId] = Fault.Fail;

    public async ValueTask<IReadOnlyCollection<string>> GetGroupsAsync(string userId, CancellationToken cancellationToken = default)
    {
        await ApplyFaultAsync(_faults, userId, cancellationToken);
        return await Inner.GetGroupsAsync(userId, cancellationToken);
    }

    public async ValueTask<IReadOnlyCollection<string>> GetContactsAsync(string userId, CancellationToken cancellationToken = default)
    {
        await ApplyFaultAsync(_faults, userId, cancellationToken);
        await ApplyFaultAsync(_contactFaults, userId, cancellationToken);
        return await Inner.GetContactsAsync(userId, cancellationToken);
    }

    private static async ValueTask ApplyFaultAsync(ConcurrentDictionary<string, Fault> faults, string userId, CancellationToken cancellationToken)
    {
        if (!faults.TryGetValue(userId, out Fault fault))
        {
            return;
        }

        if (fault == Fault.Fail)
        {
            throw new InvalidOperationException($"test: the membership source fails for '{userId}'");
        }

        // A database that never answers: only the server's MembershipTimeout (or the connection going away) ends it.
        await Task.Delay(Timeout.Infinite, cancellationToken);
    }
}
