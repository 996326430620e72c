using System;
using System.Linq;
using System.Threading.Tasks;
using FluentAssertions;
using GroupRelay.Internal;
using StackExchange.Redis;
using Xunit;

namespace GroupRelay.Redis.Tests;

/// <summary>
/// A publish batch whose reply was lost is settled by Redis (<see cref="RedisScripts.ResolveBatch"/>), whichever of the
/// two scripts Redis runs first: after the batch, the resolution finds its mark and its results; before it, the
/// resolution fences it and the batch, arriving late, does nothing. Run against a real redis-server, script by script.
/// </summary>
public sealed class PublishResolutionTests : TwoRedisNodesTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private static readonly RedisKeys Keys = new("resolution", "node1", TimeSpan.FromMinutes(15));

    [Fact]
    public async Task ResolvedAfterTheBatchRan_ReturnsItsResults_AsTheScriptGaveThem()
    {
        using ConnectionMultiplexer mux = await ConnectAsync();
        IDatabase db = mux.GetDatabase();
        var published = (RedisResult[])(await PublishAsync(db, batch: 7, "m1", "m2"))!;
        PublishResults fromReply = PublishResults.FromReply(published)!;

        var resolved = (RedisResult[])(await ResolveAsync(db, batch: 7))!;

        ((long)resolved[0]).Should().Be(1, "the batch ran");
        PublishResults fromMark = PublishResults.FromJson((string)resolved[1]!);
        fromMark.Published.Should().Be(fromReply.Published).And.Be(2);
        fromMark.Messages.Should().Equal(fromReply.Messages);
        fromMark.Messages.Select(m => m.Seq).Should().Equal(1L, 2L);
    }

    [Fact]
    public async Task ResolvedBeforeTheBatchRan_FencesIt_SoItNeverPublishes_AndTheNextBatchDoes()
    {
        using ConnectionMultiplexer mux = await ConnectAsync();
        IDatabase db = mux.GetDatabase();
        int received = 0;
        await mux.GetSubscriber().SubscribeAsync(Keys.GroupChannel("team"), (_, _) => System.Threading.Interlocked.Increment(ref received));

        var resolved = (RedisResult[])(await ResolveAsync(db, batch: 7))!;
        ((long)resolved[0]).Should().Be(0, "the batch has not run: the fence settles it as refused");

        var late = (RedisResult[])(await PublishAsync(db, batch: 7, "m1"))!;
        late.Should().HaveCount(1);
        ((string?)late[0]).Should().Be("F", "a fenced batch does nothing");
        (await db.KeyExistsAsync(Keys.Seq("team"))).Should().BeFalse("nothing was numbered");
        ((long)(await ResolveAsync(db, batch: 7))[0]).Should().Be(0, "asked again, the answer is the same");

        var next = (RedisResult[])(await PublishAsync(db, batch: 8, "m2"))!;
        PublishResults.FromReply(next)!.Messages.Single().Seq.Should().Be(1, "the node's next batch is not fenced");
        await Task.Delay(200);
        received.Should().Be(1, "only the next batch was published");
        (await db.KeyTimeToLiveAsync(RedisKeys.BatchFence(Keys.StreamPrefix("team"), Keys.NodeId))).Should().NotBeNull("a fence expires too");
    }

    private async Task<ConnectionMultiplexer> ConnectAsync()
        => await ConnectionMultiplexer.ConnectAsync(new ConfigurationOptions { EndPoints = { Server.Endpoint } }).WaitAsync(Wait);

    private static Task<RedisResult> ResolveAsync(IDatabase db, long batch)
    {
        string prefix = Keys.StreamPrefix("team");
        return db.ScriptEvaluateAsync(RedisScripts.ResolveBatch, new[] { RedisKeys.BatchMark(prefix, Keys.NodeId), RedisKeys.BatchFence(prefix, Keys.NodeId) }, new RedisValue[] { batch, 60_000 }).WaitAsync(Wait);
    }

    /// <summary>One batch of id-less messages, as <see cref="PublishScript"/> sends it.</summary>
    private static Task<RedisResult> PublishAsync(IDatabase db, long batch, params string[] bodies)
    {
        string prefix = Keys.StreamPrefix("team");
        RedisKey[] keys = [Keys.Seq("team"), Keys.Epoch("team"), Keys.Stream("team"), RedisKeys.BatchMark(prefix, Keys.NodeId), RedisKeys.BatchFence(prefix, Keys.NodeId)];
        var args = new RedisValue[9 + (3 * bodies.Length)];
        args[0] = (string)Keys.GroupChannel("team")!;
        args[1] = "E1";
        args[2] = 60_000;
        args[3] = "team";
        args[4] = bodies.Length;
        args[5] = 100;
        args[6] = Keys.StreamExpiryMilliseconds;
        args[7] = batch;
        args[8] = 60_000;
        for (int i = 0; i < bodies.Length; i++)
        {
            args[9 + (3 * i)] = "0";
            args[10 + (3 * i)] = RedisPayload.FramedMessageTail(Keys.NodeId, i + 1, null, "alice", 1, true, System.Text.Encoding.UTF8.GetBytes("\"" + bodies[i] + "\""));
            args[11 + (3 * i)] = 1;
        }

        return db.ScriptEvaluateAsync(RedisScripts.PublishBatch, keys, args).WaitAsync(Wait);
    }
}
