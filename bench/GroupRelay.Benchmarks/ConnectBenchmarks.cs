using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;
using BenchmarkDotNet.Attributes;
using GroupRelay.Benchmarks.Infrastructure;
using GroupRelay.Transports;

namespace GroupRelay.Benchmarks;

/// <summary>
/// Accepting a connection of a user who was offline: load its groups from the membership source, register the
/// connection, join each group, queue <c>welcome</c>. An operation is one connection.
/// </summary>
[InvocationCount(256, 1)]
public class ConnectBenchmarks
{
    private readonly List<RelaySession> _sessions = new();
    private RelayFixture? _fixture;
    private string[] _users = Array.Empty<string>();
    private int _next;

    /// <summary>Groups of the connecting user.</summary>
    [Params(1, 10, 100)]
    public int GroupsPerUser { get; set; }

    /// <summary>Builds the relay; every user belongs to the same <see cref="GroupsPerUser"/> groups.</summary>
    [GlobalSetup]
    public void Setup()
    {
        string[] groups = Enumerable.Range(0, GroupsPerUser).Select(i => "grp" + i).ToArray();
        _fixture = new RelayFixture(_ => groups);
        _users = Enumerable.Range(0, 256).Select(i => "user" + i).ToArray();
    }

    /// <summary>Disconnects the users of the last iteration, so each operation connects an offline user.</summary>
    [IterationCleanup]
    public void DisconnectAll()
    {
        foreach (RelaySession session in _sessions)
        {
            session.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }

        _sessions.Clear();
        _next = 0;
    }

    /// <summary>Disposes the relay.</summary>
    [GlobalCleanup]
    public void Cleanup() => _fixture?.Dispose();

    /// <summary>Connects, registers and joins one user.</summary>
    [Benchmark]
    public async Task ConnectRegisterJoin()
    {
        RelaySession session = await _fixture!.Handler.AcceptAsync(_users[_next++], new CountingSocket(_fixture.Counter)).ConfigureAwait(false);
        _sessions.Add(session);
    }
}
