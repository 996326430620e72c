using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;
using BenchmarkDotNet.Attributes;
using GroupRelay.Benchmarks.Infrastructure;
using GroupRelay.Transports;

namespace GroupRelay.Benchmarks;

/// <summary>
/// Disconnecting a user's last connection: leave every group of the user and go offline. The server already holds
/// <see cref="TotalGroups"/> groups; the cost must depend on <see cref="GroupsOfUser"/> only.
/// </summary>
[InvocationCount(256, 1)]
public class DisconnectBenchmarks
{
    private const int Residents = 1000;
    private readonly List<RelaySession> _sessions = new();
    private RelayFixture? _fixture;
    private string[] _users = Array.Empty<string>();
    private int _next;

    /// <summary>Groups of the disconnecting user.</summary>
    [Params(1, 10, 100)]
    public int GroupsOfUser { get; set; }

    /// <summary>Groups the server holds (each with an online member) besides the churn.</summary>
    [Params(10_000, 100_000)]
    public int TotalGroups { get; set; }

    /// <summary>Fills the group index with <see cref="TotalGroups"/> groups of 1,000 resident users.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _users = Enumerable.Range(0, 256).Select(i => "churn" + i).ToArray();
        var groupsOfUser = new Dictionary<string, string[]>(StringComparer.Ordinal);
        for (int u = 0; u < _users.Length; u++)
        {
            // The churning user is in existing, populated groups, spread over the whole index.
            groupsOfUser[_users[u]] = Enumerable.Range(0, GroupsOfUser).Select(j => "bg" + ((u * 7919L + j * 104_729L) % TotalGroups)).Distinct().ToArray();
        }

        _fixture = new RelayFixture(user => groupsOfUser.TryGetValue(user, out string[]? groups) ? groups : Array.Empty<string>());
        for (int k = 0; k < TotalGroups; k++)
        {
            _fixture.Directory.AddMemberAsync("bg" + k, "resident" + (k % Residents)).AsTask().GetAwaiter().GetResult();
        }
    }

    /// <summary>Connects the users the next iteration disconnects.</summary>
    [IterationSetup]
    public void ConnectAll()
    {
        _next = 0;
        foreach (string user in _users)
        {
            _sessions.Add(_fixture!.Handler.AcceptAsync(user, new CountingSocket(_fixture.Counter)).GetAwaiter().GetResult());
        }

        // Guard the set-up: every churning user must be in the index, or the benchmark would measure nothing.
        if (_fixture!.Directory.UserCount != Residents + _users.Length)
        {
            throw new InvalidOperationException($"expected {Residents + _users.Length} users in the group index, found {_fixture.Directory.UserCount}");
        }
    }

    /// <summary>
    /// Disconnects what the iteration did not (BenchmarkDotNet's jitting stage runs a single invocation), so every
    /// iteration starts with the churning users offline, then checks the index is back to the residents alone.
    /// </summary>
    [IterationCleanup]
    public void DisconnectRest()
    {
        for (int i = _next; i < _sessions.Count; i++)
        {
            _sessions[i].DisposeAsync().AsTask().GetAwaiter().GetResult();
        }

        _sessions.Clear();
        if (_fixture!.Directory.UserCount != Residents)
        {
            throw new InvalidOperationException($"after the disconnects, {_fixture.Directory.UserCount - Residents} churning users are still in the group index");
        }
    }

    /// <summary>Disposes the relay.</summary>
    [GlobalCleanup]
    public void Cleanup() => _fixture?.Dispose();

    /// <summary>Disconnects one user: leaves its groups, goes offline.</summary>
    [Benchmark]
    public ValueTask DisconnectUser() => _sessions[_next++].DisposeAsync();
}
