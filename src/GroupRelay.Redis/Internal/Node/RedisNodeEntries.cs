using System;
using System.Collections.Generic;
using System.Threading.Tasks;
using GroupRelay.ScaleOut;
using StackExchange.Redis;

namespace GroupRelay.Internal;

/// <summary>
/// A node's entries in Redis as a whole: removes them (a dead node's, or this node's own before writing them again),
/// and writes this node's local truth (its users, statuses, memberships and, per epoch it still shares with Redis, seq floors) again.
/// </summary>
/// <remarks>
/// Thread-safety in one sentence: stateless; each removal is one atomic script, and the rewrite reads the in-memory
/// stores, which the caller keeps writers out of (the resync holds <see cref="SharedExclusiveGate"/> alone).
/// </remarks>
internal sealed class RedisNodeEntries
{
    private readonly RedisConnection _connection;
    private readonly InMemoryPresenceRegistry _presence;
    private readonly InMemoryGroupDirectory _directory;

    public RedisNodeEntries(RedisConnection connection, InMemoryPresenceRegistry presence, InMemoryGroupDirectory directory)
    {
        _connection = connection;
        _presence = presence;
        _directory = directory;
    }

    /// <summary>Removes a node's contributions; <paramref name="mode"/> is <c>reap</c> (a dead node: only the first caller does it) or <c>self</c>.</summary>
    public async Task<NodeRemoval> RemoveNodeAsync(string nodeId, string mode)
    {
        RedisKeys keys = _connection.Keys;
        RedisResult result = await _connection.Multiplexer.GetDatabase().ScriptEvaluateAsync(RedisScripts.RemoveNode, new[] { keys.Nodes, keys.Online, keys.Status }, new RedisValue[] { keys.Prefix, nodeId, mode }).ConfigureAwait(false);
        var parts = (RedisResult[])result!;
        var offline = new List<string>();
        foreach (RedisResult user in (RedisResult[])parts[0]!)
        {
            offline.Add((string)user!);
        }

        var gone = new List<(string, string)>();
        foreach (RedisResult pair in (RedisResult[])parts[1]!)
        {
            string text = (string)pair!;
            int space = text.IndexOf(' ', StringComparison.Ordinal);
            gone.Add((RedisKeys.Decode(text[..space]), text[(space + 1)..]));
        }

        return new NodeRemoval(offline, gone);
    }

    /// <summary>Starts writing this node's whole local state into <paramref name="writes"/>; returns how many users and groups it holds.</summary>
    public async Task<(int Users, int Groups)> RewriteAsync(List<Task> writes)
    {
        RedisKeys keys = _connection.Keys;
        IDatabase db = _connection.Multiplexer.GetDatabase();
        IReadOnlyCollection<string> users = await _presence.GetOnlineUsersAsync().ConfigureAwait(false);
        foreach (string user in users)
        {
            int connections = _presence.GetLocalConnections(user).Count;
            if (connections == 0)
            {
                continue;
            }

            writes.Add(db.ScriptEvaluateAsync(RedisScripts.AddConnection, new[] { keys.NodeUsers, keys.Online, keys.Status }, new RedisValue[] { user, connections }));
            PresenceState state = await _presence.GetStateAsync(user).ConfigureAwait(false);
            if (state.Status is not null)
            {
                writes.Add(db.HashSetAsync(keys.Status, user, state.Status));
            }
        }

        IReadOnlyList<string> groups = _directory.GetAllGroups();
        foreach (string group in groups)
        {
            foreach (string user in _directory.GetMembers(group))
            {
                writes.Add(db.ScriptEvaluateAsync(RedisScripts.AddMember, new[] { keys.NodeMemberships, keys.Members(group) }, new RedisValue[] { RedisKeys.Pair(group, user), user }));
            }
        }

        return (users.Count, groups.Count);
    }

    /// <summary>What a removal of this node's own entries ended that this node does not hold any more (users that left it meanwhile).</summary>
    public async Task<NodeRemoval> NoLongerHeldAsync(NodeRemoval removal)
    {
        var offline = new List<string>();
        foreach (string user in removal.Offline)
        {
            if (_presence.GetLocalConnections(user).Count == 0)
            {
                offline.Add(user);
            }
        }

        var gone = new List<(string, string)>();
        foreach ((string group, string user) in removal.Gone)
        {
            if (!await _directory.IsMemberAsync(group, user).ConfigureAwait(false))
            {
                gone.Add((group, user));
            }
        }

        return new NodeRemoval(offline, gone);
    }
}
