using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using System.Text.Json;
using System.Threading.Tasks;
using FluentAssertions;
using GroupRelay.Core.Tests.Infrastructure;
using GroupRelay.Internal;
using GroupRelay.ScaleOut;
using Xunit;

namespace GroupRelay.Core.Tests;

public sealed class FrameWriterTests
{
    // Ids and texts that need escaping: a raw line feed in any of them would break the '\n' framing.
    private const string Tricky = "line\nfeed \"quoted\" back\\slash \t tab \u2028 grüße 🎉 </script>";

    private static JsonElement ParseFrame(byte[] frame)
    {
        frame.Should().NotContain((byte)'\n', "a frame never holds a raw line feed");
        frame.Should().NotContain((byte)'\r');
        return Json.Parse(frame);
    }

    private static string[] Names(JsonElement frame) => frame.EnumerateObject().Select(p => p.Name).ToArray();

    [Fact]
    public void Message_CompactBody_CopiesBodyVerbatim()
    {
        byte[] body = Encoding.UTF8.GetBytes("""{"text":"hi  there","n":[1,2.50,1e3],"esc":"\u0041\"","u":"🎉"}""");

        byte[] frame = FrameWriter.Message("team", "alice", 42, 1764098000123, body, bodyIsCompact: true);

        JsonElement parsed = ParseFrame(frame);
        Names(parsed).Should().Equal("type", "group", "from", "seq", "ts", "body");
        parsed.GetProperty("type").GetString().Should().Be("message");
        parsed.GetProperty("group").GetString().Should().Be("team");
        parsed.GetProperty("from").GetString().Should().Be("alice");
        parsed.GetProperty("seq").GetInt64().Should().Be(42);
        parsed.GetProperty("ts").GetInt64().Should().Be(1764098000123);
        string text = Encoding.UTF8.GetString(frame);
        text.Should().EndWith("\"body\":" + Encoding.UTF8.GetString(body) + "}", "a compact body is copied as is, escapes and number spellings included");
    }

    [Fact]
    public void Message_NonCompactBody_IsWrittenCompactAndEqual()
    {
        string body = "{\n  \"text\" : \"a  b\\nc\",\r\n  \"list\" : [ 1 , 2 ]\n}";

        byte[] frame = FrameWriter.Message("team", "alice", 1, 0, Encoding.UTF8.GetBytes(body), bodyIsCompact: false);

        JsonElement parsed = ParseFrame(frame);
        Encoding.UTF8.GetString(frame).Should().EndWith("\"body\":{\"text\":\"a  b\\nc\",\"list\":[1,2]}}");
        using JsonDocument original = JsonDocument.Parse(body);
        JsonElement.DeepEquals(parsed.GetProperty("body"), original.RootElement).Should().BeTrue();
    }

    [Theory]
    [InlineData("null")]
    [InlineData("\"text\"")]
    [InlineData("-0.5")]
    [InlineData("[]")]
    [InlineData("true")]
    public void Message_AnyJsonValueAsBody_IsKept(string body)
    {
        byte[] frame = FrameWriter.Message("g", "u", 1, 0, Encoding.UTF8.GetBytes(body), bodyIsCompact: true);

        ParseFrame(frame).GetProperty("body").GetRawText().Should().Be(body);
    }

    [Fact]
    public void Message_TrickyIds_AreEscapedAndRoundTrip()
    {
        JsonElement parsed = ParseFrame(FrameWriter.Message(Tricky, Tricky, 1, 0, "1"u8, bodyIsCompact: true));

        parsed.GetProperty("group").GetString().Should().Be(Tricky);
        parsed.GetProperty("from").GetString().Should().Be(Tricky);
    }

    [Fact]
    public void Message_LargeBodyThenSmallFrame_BothCorrect()
    {
        // The per-thread scratch buffer is dropped after a big frame; the next frame must not be affected.
        string big = "\"" + new string('x', 600_000) + "\"";
        byte[] first = FrameWriter.Message("g", "u", 1, 0, Encoding.UTF8.GetBytes(big), bodyIsCompact: true);
        byte[] second = FrameWriter.Ack("a", 2);

        ParseFrame(first).GetProperty("body").GetString().Should().HaveLength(600_000);
        Encoding.UTF8.GetString(second).Should().Be("""{"type":"ack","id":"a","seq":2}""");
    }

    [Fact]
    public async Task Message_ManyThreadsAtOnce_EveryFrameIsItsOwn()
    {
        Task[] writers = Enumerable.Range(0, 8).Select(t => Task.Run(() =>
        {
            for (int i = 0; i < 2000; i++)
            {
                string body = $"{{\"t\":{t},\"i\":{i}}}";
                byte[] frame = FrameWriter.Message("g" + t, "u" + t, i, i, Encoding.UTF8.GetBytes(body), bodyIsCompact: true);
                JsonElement parsed = Json.Parse(frame);
                parsed.GetProperty("group").GetString().Should().Be("g" + t);
                parsed.GetProperty("seq").GetInt64().Should().Be(i);
                parsed.GetProperty("body").GetRawText().Should().Be(body);
            }
        })).ToArray();

        await Task.WhenAll(writers).WaitAsync(TestTimeouts.Default * 3);
    }

    [Fact]
    public void Welcome_HasProtocolFields()
    {
        JsonElement parsed = ParseFrame(FrameWriter.Welcome("c-7f3a", "alice", new[] { "family", "team" }, new[] { new StreamPosition("q81Zk", 7), new StreamPosition("Zp0w1", 42) }));

        Names(parsed).Should().Equal("type", "connectionId", "user", "groups", "positions");
        parsed.GetProperty("type").GetString().Should().Be("welcome");
        parsed.GetProperty("connectionId").GetString().Should().Be("c-7f3a");
        parsed.GetProperty("user").GetString().Should().Be("alice");
        parsed.GetProperty("groups").EnumerateArray().Select(g => g.GetString()).Should().Equal("family", "team");
        parsed.GetProperty("positions").GetProperty("family").GetProperty("epoch").GetString().Should().Be("q81Zk");
        parsed.GetProperty("positions").GetProperty("family").GetProperty("seq").GetInt64().Should().Be(7);
        parsed.GetProperty("positions").GetProperty("team").GetProperty("epoch").GetString().Should().Be("Zp0w1");
        parsed.GetProperty("positions").GetProperty("team").GetProperty("seq").GetInt64().Should().Be(42);
    }

    [Fact]
    public void Welcome_NoGroups_EmptyArrayAndNoPositions()
    {
        JsonElement parsed = ParseFrame(FrameWriter.Welcome("c", "u", Array.Empty<string>(), Array.Empty<StreamPosition>()));
        parsed.GetProperty("groups").GetArrayLength().Should().Be(0);
        parsed.GetProperty("positions").EnumerateObject().Should().BeEmpty();
    }

    [Fact]
    public void Reset_HasGroupEpochAndSeq()
    {
        JsonElement parsed = ParseFrame(FrameWriter.Reset("team", new StreamPosition("Zp0w1", 0)));

        Names(parsed).Should().Equal("type", "group", "epoch", "seq");
        parsed.GetProperty("type").GetString().Should().Be("reset");
        parsed.GetProperty("group").GetString().Should().Be("team");
        parsed.GetProperty("epoch").GetString().Should().Be("Zp0w1");
        parsed.GetProperty("seq").GetInt64().Should().Be(0);
    }

    [Fact]
    public void Ack_Duplicate_IsMarked()
    {
        JsonElement parsed = ParseFrame(FrameWriter.Ack("m1", 42, duplicate: true));
        Names(parsed).Should().Equal("type", "id", "seq", "duplicate");
        parsed.GetProperty("duplicate").GetBoolean().Should().BeTrue();
        Names(ParseFrame(FrameWriter.Ack("m1", 42))).Should().NotContain("duplicate");
    }

    [Fact]
    public void Ack_WithAndWithoutSeq()
    {
        JsonElement withSeq = ParseFrame(FrameWriter.Ack("m1", 42));
        Names(withSeq).Should().Equal("type", "id", "seq");
        withSeq.GetProperty("type").GetString().Should().Be("ack");
        withSeq.GetProperty("id").GetString().Should().Be("m1");
        withSeq.GetProperty("seq").GetInt64().Should().Be(42);

        Names(ParseFrame(FrameWriter.Ack("u1", null))).Should().Equal("type", "id");
    }

    [Fact]
    public void Error_WithAndWithoutId()
    {
        JsonElement withId = ParseFrame(FrameWriter.Error("m1", "not_member", "alice is not a member of group 'ops'"));
        Names(withId).Should().Equal("type", "id", "code", "message");
        withId.GetProperty("type").GetString().Should().Be("error");
        withId.GetProperty("code").GetString().Should().Be("not_member");
        withId.GetProperty("message").GetString().Should().Be("alice is not a member of group 'ops'");

        Names(ParseFrame(FrameWriter.Error(null, "bad_request", Tricky))).Should().Equal("type", "code", "message");
        ParseFrame(FrameWriter.Error(null, "bad_request", Tricky)).GetProperty("message").GetString().Should().Be(Tricky);
    }

    [Fact]
    public void Pong_WithAndWithoutId()
    {
        Names(ParseFrame(FrameWriter.Pong("p"))).Should().Equal("type", "id");
        ParseFrame(FrameWriter.Pong("p")).GetProperty("type").GetString().Should().Be("pong");
        Names(ParseFrame(FrameWriter.Pong(null))).Should().Equal("type");
    }

    [Fact]
    public void PresenceResult_HasOnlineOfflineForbidden()
    {
        JsonElement parsed = ParseFrame(FrameWriter.PresenceResult("p1", new List<(string, string?)> { ("bob", null), ("dave", "away") }, new[] { "carol" }, new[] { "mallory" }));

        Names(parsed).Should().Equal("type", "id", "online", "offline", "forbidden");
        parsed.GetProperty("type").GetString().Should().Be("presence");
        parsed.GetProperty("id").GetString().Should().Be("p1");
        JsonElement[] online = parsed.GetProperty("online").EnumerateArray().ToArray();
        online.Should().HaveCount(2);
        online[0].GetProperty("user").GetString().Should().Be("bob");
        online[0].GetProperty("status").ValueKind.Should().Be(JsonValueKind.Null);
        online[1].GetProperty("status").GetString().Should().Be("away");
        parsed.GetProperty("offline").EnumerateArray().Select(e => e.GetString()).Should().Equal("carol");
        parsed.GetProperty("forbidden").EnumerateArray().Select(e => e.GetString()).Should().Equal("mallory");
    }

    [Fact]
    public void PresenceEvent_HasUserOnlineStatus()
    {
        JsonElement parsed = ParseFrame(FrameWriter.PresenceEvent("bob", online: false, status: null));

        Names(parsed).Should().Equal("type", "user", "online", "status");
        parsed.GetProperty("type").GetString().Should().Be("presence");
        parsed.GetProperty("user").GetString().Should().Be("bob");
        parsed.GetProperty("online").GetBoolean().Should().BeFalse();
        parsed.GetProperty("status").ValueKind.Should().Be(JsonValueKind.Null);
        ParseFrame(FrameWriter.PresenceEvent("bob", online: true, status: "away")).GetProperty("status").GetString().Should().Be("away");
    }

    [Fact]
    public void Members_HasGroupAndOnline()
    {
        JsonElement parsed = ParseFrame(FrameWriter.Members("q", "team", new[] { "alice", "bob" }));

        Names(parsed).Should().Equal("type", "id", "group", "online");
        parsed.GetProperty("type").GetString().Should().Be("members");
        parsed.GetProperty("online").EnumerateArray().Select(e => e.GetString()).Should().Equal("alice", "bob");
    }

    [Theory]
    [InlineData(true, "joined")]
    [InlineData(false, "left")]
    public void MemberEvent_HasTypeGroupUser(bool joined, string type)
    {
        JsonElement parsed = ParseFrame(FrameWriter.MemberEvent(joined, "team", "bob"));

        Names(parsed).Should().Equal("type", "group", "user");
        parsed.GetProperty("type").GetString().Should().Be(type);
        parsed.GetProperty("group").GetString().Should().Be("team");
        parsed.GetProperty("user").GetString().Should().Be("bob");
    }

    [Theory]
    [InlineData(true, "added")]
    [InlineData(false, "removed")]
    public void MembershipEvent_HasTypeGroup(bool added, string type)
    {
        JsonElement parsed = ParseFrame(FrameWriter.MembershipEvent(added, "g3", new StreamPosition("q81Zk", 12)));

        Names(parsed).Should().Equal(added ? new[] { "type", "group", "epoch", "seq" } : new[] { "type", "group" });
        parsed.GetProperty("type").GetString().Should().Be(type);
        parsed.GetProperty("group").GetString().Should().Be("g3");
        if (added)
        {
            parsed.GetProperty("epoch").GetString().Should().Be("q81Zk");
            parsed.GetProperty("seq").GetInt64().Should().Be(12);
        }
    }
}
