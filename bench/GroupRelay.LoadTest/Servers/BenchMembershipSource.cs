using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

namespace GroupRelay.LoadTest.Servers;

/// <summary><see cref="BenchMembership"/> as GroupRelay's membership source (no contacts).</summary>
internal sealed class BenchMembershipSource : IMembershipSource
{
    private readonly IReadOnlyList<int> _groupSizes;

    public BenchMembershipSource(IReadOnlyList<int> groupSizes) => _groupSizes = groupSizes;

    public ValueTask<IReadOnlyCollection<string>> GetGroupsAsync(string userId, CancellationToken cancellationToken = default)
        => new((IReadOnlyCollection<string>)BenchMembership.GroupsOf(userId, _groupSizes));

    public ValueTask<IReadOnlyCollection<string>> GetContactsAsync(string userId, CancellationToken cancellationToken = default)
        => new(Array.Empty<string>());
}
