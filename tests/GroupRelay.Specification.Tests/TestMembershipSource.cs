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
    private readonly ConcurrentDictionary<string, Task> _ignoringToken = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ManualResetEventSlim> _blocking = new(StringComparer.Ordinal);
    private int _blockedCalls;

    public TestMembershipSource(InMemoryMembershipSource inner) => Inner = inner;

    private enum Fault
    {
        Fail,
        Hang,
        Unknown,
    }

    public InMemoryMembershipSource Inner { get; }

    /// <summary>Every call about <paramref name="userId"/> throws from now on.</summary>
    public void FailFor(string userId) => _faults[userId] = Fault.Fail;

    /// <summary>The groups query about <paramref name="userId"/> throws <see cref="UnknownUserException"/> from now on (a deleted user).</summary>
    public void UnknownUser(string userId) => _faults[userId] = Fault.Unknown;

    /// <summary>Every call about <paramref name="userId"/> completes only when its cancellation token is cancelled.</summary>
    public void HangFor(string userId) => _faults[userId] = Fault.Hang;

    /// <summary>
    /// Every call about <paramref name="userId"/> waits for <paramref name="release"/> without looking at its token (a
    /// host that does not pass the token on), then answers.
    /// </summary>
    public void IgnoreTokenUntil(string userId, Task release) => _ignoringToken[userId] = release;

    /// <summary>
    /// Every call about <paramref name="userId"/> blocks its thread until <paramref name="release"/> is set (a synchronous
    /// database driver behind an async signature), at most 30 s, then answers.
    /// </summary>
    public void BlockUntil(string userId, ManualResetEventSlim release) => _blocking[userId] = release;

    /// <summary>How many calls are blocked in <see cref="BlockUntil"/> right now.</summary>
    public int BlockedCalls => Volatile.Read(ref _blockedCalls);

    /// <summary>Only the contacts query about <paramref name="userId"/> throws from now on (its connects still work).</summary>
    public void FailContactsFor(string userId) => _contactFaults[userId] = Fault.Fail;

    public async ValueTask<IReadOnlyCollection<string>> GetGroupsAsync(string userId, CancellationToken cancellationToken = default)
    {
        if (_blocking.TryGetValue(userId, out ManualResetEventSlim? block))
        {
            // Before any await: the caller's thread is the one blocked.
            Interlocked.Increment(ref _blockedCalls);
            try
            {
                block.Wait(TimeSpan.FromSeconds(30), CancellationToken.None); // deliberately deaf to the token
            }
            finally
            {
                Interlocked.Decrement(ref _blockedCalls);
            }
        }

        if (_ignoringToken.TryGetValue(userId, out Task? release))
        {
            await release.WaitAsync(TimeSpan.FromSeconds(30), CancellationToken.None); // deliberately deaf to the token
        }

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

        if (fault == Fault.Unknown)
        {
            throw new UnknownUserException(userId);
        }

        // A database that never answers: only the server's MembershipTimeout (or the connection going away) ends it.
        await Task.Delay(Timeout.Infinite, cancellationToken);
    }
}
