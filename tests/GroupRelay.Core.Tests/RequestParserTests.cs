using System;
using System.Linq;
using System.Text;
using FluentAssertions;
using GroupRelay.Core.Tests.Infrastructure;
using GroupRelay.Internal;
using Xunit;

namespace GroupRelay.Core.Tests;

public sealed class RequestParserTests
{
    private static (ParseResult Result, RelayRequest Request) Parse(string json, Action<GroupRelayOptions>? configure = null)
        => Parse(Encoding.UTF8.GetBytes(json), configure);

    private static (ParseResult Result, RelayRequest Request) Parse(byte[] frame, Action<GroupRelayOptions>? configure = null)
    {
        var options = new GroupRelayOptions();
        configure?.Invoke(options);
        ParseResult result = new RequestParser(options).Parse(frame, out RelayRequest request);
        return (result, request);
    }

    private static void ShouldBeError((ParseResult Result, RelayRequest Request) parsed, string code, string? id = null)
    {
        parsed.Result.IsError.Should().BeTrue();
        parsed.Result.ErrorCode.Should().Be(code);
        parsed.Result.Id.Should().Be(id);
        parsed.Result.ErrorMessage.Should().NotBeNullOrEmpty();
    }

    private static RelayRequest ShouldBeValid((ParseResult Result, RelayRequest Request) parsed)
    {
        parsed.Result.IsError.Should().BeFalse($"the parser said {parsed.Result.ErrorCode}: {parsed.Result.ErrorMessage}");
        return parsed.Request;
    }

    // ---- the request types ----

    [Fact]
    public void Parse_Send_ReadsEveryField()
    {
        RelayRequest request = ShouldBeValid(Parse("""{"type":"send","id":"m1","group":"team","body":{"text":"hi"},"echo":false}"""));

        request.Type.Should().Be(RequestType.Send);
        request.Id.Should().Be("m1");
        request.Group.Should().Be("team");
        Encoding.UTF8.GetString(request.Body.Span).Should().Be("""{"text":"hi"}""");
        request.BodyIsCompact.Should().BeTrue();
        request.Echo.Should().BeFalse();
    }

    [Fact]
    public void Parse_SendWithoutEcho_EchoDefaultsToTrue()
        => ShouldBeValid(Parse("""{"type":"send","group":"g","body":1}""")).Echo.Should().BeTrue();

    [Fact]
    public void Parse_FieldsInAnyOrder_SameRequest()
    {
        RelayRequest request = ShouldBeValid(Parse("""{"body":[1,2],"group":"g","id":"x","type":"send"}"""));

        request.Type.Should().Be(RequestType.Send);
        request.Group.Should().Be("g");
        Encoding.UTF8.GetString(request.Body.Span).Should().Be("[1,2]");
    }

    [Theory]
    [InlineData("""{"a":1}""")]
    [InlineData("""[1, 2, {"x":null}]""")]
    [InlineData("\"a string with \\\"quotes\\\" and \\\\ backslash\"")]
    [InlineData("\"grüße 🎉\"")]
    [InlineData("-12.5e+3")]
    [InlineData("0")]
    [InlineData("true")]
    [InlineData("false")]
    [InlineData("null")]
    [InlineData("{}")]
    [InlineData("[]")]
    [InlineData("""{ "spaced" : [ 1 , 2 ] }""")]
    [InlineData("{\n\t\"multi\":\r\n\"line\"\n}")]
    public void Parse_SendBody_IsTheExactSliceOfTheFrame(string body)
    {
        string frame = "{\"type\":\"send\",\"group\":\"g\",\"body\":  " + body + "  ,\"id\":\"b\"}";

        RelayRequest request = ShouldBeValid(Parse(frame));

        Encoding.UTF8.GetString(request.Body.Span).Should().Be(body);
        request.BodyIsCompact.Should().Be(JsonCompactor.CompactLength(Encoding.UTF8.GetBytes(body)) == Encoding.UTF8.GetByteCount(body));
    }

    [Theory]
    [InlineData("""{"a":1}""", true)]
    [InlineData("""{"a":"x y"}""", true)]
    [InlineData("""{"a": 1}""", false)]
    [InlineData("[1,\n2]", false)]
    public void Parse_SendBody_CompactFlagTellsWhetherWhitespaceIsOutsideStrings(string body, bool compact)
        => ShouldBeValid(Parse("{\"type\":\"send\",\"group\":\"g\",\"body\":" + body + "}")).BodyIsCompact.Should().Be(compact);

    [Fact]
    public void Parse_SendBody_PointsIntoTheFrameWithoutCopying()
    {
        byte[] frame = Encoding.UTF8.GetBytes("""{"type":"send","group":"g","body":{"k":"v"}}""");
        var options = new GroupRelayOptions();

        new RequestParser(options).Parse(frame, out RelayRequest request).IsError.Should().BeFalse();

        System.Runtime.InteropServices.MemoryMarshal.TryGetArray(request.Body, out ArraySegment<byte> segment).Should().BeTrue();
        segment.Array.Should().BeSameAs(frame);
    }

    [Fact]
    public void Parse_Watch_ReadsUsers()
    {
        RelayRequest request = ShouldBeValid(Parse("""{"type":"watch","id":"p1","users":["bob","carol","bob"]}"""));

        request.Type.Should().Be(RequestType.Watch);
        request.Users.Should().Equal("bob", "carol", "bob");
    }

    [Fact]
    public void Parse_Unwatch_ReadsUsers()
    {
        RelayRequest request = ShouldBeValid(Parse("""{"type":"unwatch","users":["bob"]}"""));

        request.Type.Should().Be(RequestType.Unwatch);
        request.Id.Should().BeNull();
        request.Users.Should().Equal("bob");
    }

    [Theory]
    [InlineData("""{"type":"status","value":"away"}""", "away")]
    [InlineData("""{"type":"status","value":null}""", null)]
    public void Parse_Status_ReadsValueOrNull(string frame, string? value)
    {
        RelayRequest request = ShouldBeValid(Parse(frame));

        request.Type.Should().Be(RequestType.Status);
        request.StatusValue.Should().Be(value);
    }

    [Fact]
    public void Parse_Members_ReadsGroup()
    {
        RelayRequest request = ShouldBeValid(Parse("""{"type":"members","id":"q","group":"team"}"""));

        request.Type.Should().Be(RequestType.Members);
        request.Group.Should().Be("team");
    }

    [Fact]
    public void Parse_History_ReadsAfterAndLimitWithDefault()
    {
        RelayRequest request = ShouldBeValid(Parse("""{"type":"history","group":"team","after":41}"""));
        request.Type.Should().Be(RequestType.History);
        request.After.Should().Be(41);
        request.Limit.Should().Be(100);

        ShouldBeValid(Parse("""{"type":"history","group":"team","after":0,"limit":1000}""")).Limit.Should().Be(1000);
        ShouldBeValid(Parse("""{"type":"history","group":"team","after":9007199254740993,"limit":1}""")).After.Should().Be(9007199254740993);
    }

    [Fact]
    public void Parse_Ping_NeedsNothingElse()
    {
        RelayRequest request = ShouldBeValid(Parse("""{"type":"ping"}"""));

        request.Type.Should().Be(RequestType.Ping);
        request.Id.Should().BeNull();
    }

    // ---- ids and bounds ----

    [Theory]
    [InlineData(1)]
    [InlineData(64)]
    public void Parse_IdOfAllowedLength_IsKept(int length)
    {
        string id = new('i', length);
        ShouldBeValid(Parse($$"""{"type":"ping","id":"{{id}}"}""")).Id.Should().Be(id);
    }

    [Theory]
    [InlineData("\"\"")]
    [InlineData("\"" + "iiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiii" + "\"")] // 65 characters
    [InlineData("7")]
    [InlineData("null")]
    [InlineData("true")]
    [InlineData("[\"a\"]")]
    [InlineData("{\"id\":\"a\"}")]
    public void Parse_InvalidId_BadRequestWithoutId(string id)
        => ShouldBeError(Parse("{\"type\":\"ping\",\"id\":" + id + "}"), RelayErrorCodes.BadRequest, id: null);

    [Fact]
    public void Parse_IdLength_CountsCharactersNotEscapes()
    {
        // 64 characters, each written as a six-byte escape: still a valid id.
        string escaped = string.Concat(Enumerable.Repeat("\\u0041", 64));
        ShouldBeValid(Parse("{\"type\":\"ping\",\"id\":\"" + escaped + "\"}")).Id.Should().Be(new string('A', 64));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(128)]
    public void Parse_GroupOfAllowedLength_IsKept(int length)
    {
        string group = new('g', length);
        ShouldBeValid(Parse($$"""{"type":"members","group":"{{group}}"}""")).Group.Should().Be(group);
    }

    [Theory]
    [InlineData("\"\"")]
    [InlineData("129")]
    [InlineData("5")]
    [InlineData("null")]
    [InlineData("[\"g\"]")]
    [InlineData("{\"g\":1}")]
    public void Parse_InvalidGroup_BadRequestRepeatingId(string group)
    {
        string value = group == "129" ? "\"" + new string('g', 129) + "\"" : group;
        (ParseResult Result, RelayRequest Request) parsed = Parse("{\"type\":\"send\",\"id\":\"r\",\"group\":" + value + ",\"body\":1}");

        ShouldBeError(parsed, RelayErrorCodes.BadRequest, id: "r");
        parsed.Result.ErrorMessage.Should().Contain("group");
    }

    [Fact]
    public void Parse_GroupLongerThanConfiguredMaxIdLength_BadRequest()
    {
        ShouldBeValid(Parse("""{"type":"members","group":"abcde"}""", o => o.MaxIdLength = 5));
        ShouldBeError(Parse("""{"type":"members","group":"abcdef"}""", o => o.MaxIdLength = 5), RelayErrorCodes.BadRequest);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(1000)]
    public void Parse_UsersOfAllowedCount_AreKept(int count)
    {
        string users = string.Join(",", Enumerable.Range(0, count).Select(i => $"\"u{i}\""));
        ShouldBeValid(Parse("{\"type\":\"watch\",\"users\":[" + users + "]}")).Users.Should().HaveCount(count);
    }

    [Fact]
    public void Parse_UserIdOf128Characters_IsKept()
        => ShouldBeValid(Parse("{\"type\":\"watch\",\"users\":[\"" + new string('u', 128) + "\"]}")).Users.Should().ContainSingle();

    [Theory]
    [InlineData("[]")]
    [InlineData("1001")]
    [InlineData("[\"\"]")]
    [InlineData("129")]
    [InlineData("[\"bob\",7]")]
    [InlineData("[\"bob\",null]")]
    [InlineData("[[\"bob\"]]")]
    [InlineData("\"bob\"")]
    [InlineData("{\"bob\":true}")]
    [InlineData("null")]
    public void Parse_InvalidUsers_BadRequestRepeatingId(string users)
    {
        string value = users switch
        {
            "1001" => "[" + string.Join(",", Enumerable.Range(0, 1001).Select(i => $"\"u{i}\"")) + "]",
            "129" => "[\"" + new string('u', 129) + "\"]",
            _ => users,
        };

        ShouldBeError(Parse("{\"type\":\"watch\",\"id\":\"w\",\"users\":" + value + "}"), RelayErrorCodes.BadRequest, id: "w");
        ShouldBeError(Parse("{\"type\":\"unwatch\",\"id\":\"w\",\"users\":" + value + "}"), RelayErrorCodes.BadRequest, id: "w");
    }

    [Fact]
    public void Parse_UsersOverConfiguredMaxWatchPerRequest_BadRequest()
    {
        ShouldBeValid(Parse("""{"type":"watch","users":["a","b"]}""", o => o.MaxWatchPerRequest = 2));
        ShouldBeError(Parse("""{"type":"watch","users":["a","b","c"]}""", o => o.MaxWatchPerRequest = 2), RelayErrorCodes.BadRequest);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(32)]
    public void Parse_StatusOfAllowedLength_IsKept(int length)
    {
        string value = new('s', length);
        ShouldBeValid(Parse($$"""{"type":"status","value":"{{value}}"}""")).StatusValue.Should().Be(value);
    }

    [Theory]
    [InlineData("\"\"")]
    [InlineData("\"123456789012345678901234567890123\"")] // 33 characters
    [InlineData("1")]
    [InlineData("false")]
    [InlineData("[\"away\"]")]
    [InlineData("{\"v\":\"away\"}")]
    public void Parse_InvalidStatus_BadRequestRepeatingId(string value)
        => ShouldBeError(Parse("{\"type\":\"status\",\"id\":\"s\",\"value\":" + value + "}"), RelayErrorCodes.BadRequest, id: "s");

    [Theory]
    [InlineData("-1")]
    [InlineData("1.5")]
    [InlineData("1e3")]
    [InlineData("\"41\"")]
    [InlineData("null")]
    [InlineData("99999999999999999999")]
    public void Parse_InvalidAfter_BadRequest(string after)
        => ShouldBeError(Parse("{\"type\":\"history\",\"id\":\"h\",\"group\":\"g\",\"after\":" + after + "}"), RelayErrorCodes.BadRequest, id: "h");

    [Theory]
    [InlineData("0")]
    [InlineData("1001")]
    [InlineData("-5")]
    [InlineData("2.5")]
    [InlineData("\"10\"")]
    public void Parse_InvalidLimit_BadRequest(string limit)
        => ShouldBeError(Parse("{\"type\":\"history\",\"id\":\"h\",\"group\":\"g\",\"after\":0,\"limit\":" + limit + "}"), RelayErrorCodes.BadRequest, id: "h");

    [Theory]
    [InlineData("1")]
    [InlineData("\"false\"")]
    [InlineData("null")]
    public void Parse_InvalidEcho_BadRequest(string echo)
        => ShouldBeError(Parse("{\"type\":\"send\",\"id\":\"e\",\"group\":\"g\",\"body\":1,\"echo\":" + echo + "}"), RelayErrorCodes.BadRequest, id: "e");

    [Theory]
    [InlineData("""{"type":"send","id":"x","body":1}""", "group")]
    [InlineData("""{"type":"send","id":"x","group":"g"}""", "body")]
    [InlineData("""{"type":"members","id":"x"}""", "group")]
    [InlineData("""{"type":"history","id":"x","after":1}""", "group")]
    [InlineData("""{"type":"history","id":"x","group":"g"}""", "after")]
    [InlineData("""{"type":"watch","id":"x"}""", "users")]
    [InlineData("""{"type":"unwatch","id":"x"}""", "users")]
    [InlineData("""{"type":"status","id":"x"}""", "value")]
    public void Parse_MissingRequiredField_BadRequestNamingTheField(string frame, string field)
    {
        (ParseResult Result, RelayRequest Request) parsed = Parse(frame);

        ShouldBeError(parsed, RelayErrorCodes.BadRequest, id: "x");
        parsed.Result.ErrorMessage.Should().Contain($"'{field}'");
    }

    // ---- JSON depth ----

    private static string Nested(int depth) => new string('[', depth) + new string(']', depth);

    [Fact]
    public void Parse_NestingAtMaxDepth_IsAccepted()
    {
        // The frame object is one level: 63 nested arrays in the body make 64.
        ShouldBeValid(Parse("{\"type\":\"send\",\"id\":\"d\",\"group\":\"g\",\"body\":" + Nested(63) + "}"));
    }

    [Fact]
    public void Parse_NestingOverMaxDepth_BadRequestRepeatingId()
    {
        (ParseResult Result, RelayRequest Request) parsed = Parse("{\"type\":\"send\",\"id\":\"d\",\"group\":\"g\",\"body\":" + Nested(64) + "}");

        ShouldBeError(parsed, RelayErrorCodes.BadRequest, id: "d");
        parsed.Result.ErrorMessage.Should().Contain("64");
    }

    [Fact]
    public void Parse_NestingOverConfiguredDepth_BadRequest()
    {
        ShouldBeValid(Parse("{\"type\":\"send\",\"group\":\"g\",\"body\":" + Nested(7) + "}", o => o.MaxJsonDepth = 8));
        ShouldBeError(Parse("{\"type\":\"send\",\"group\":\"g\",\"body\":" + Nested(8) + "}", o => o.MaxJsonDepth = 8), RelayErrorCodes.BadRequest);
    }

    [Fact]
    public void Parse_DeepUnknownField_CountsTowardsDepthToo()
        => ShouldBeError(Parse("{\"type\":\"ping\",\"id\":\"d\",\"future\":" + Nested(64) + "}"), RelayErrorCodes.BadRequest, id: "d");

    // ---- what is wrong with invalid JSON (issue 11 #4): from the reader's state, never its exception text ----

    [Theory]
    [InlineData("""{"type":"ping","id":"t1","x":{"a":1}""")]
    [InlineData("""{"type":"ping","id":"t1","x":{"a":1},""")]
    [InlineData("""{"type":"ping","id":"t1","x":""")]
    [InlineData("""{"type":"ping","id":"t1","x":12""")]
    [InlineData("{\"type\":\"ping\",\"id\":\"t1\",\"x\"")]
    [InlineData("""{"type":"ping","id":"t1" """)]
    public void Parse_TruncatedObject_SaysUnterminatedObject_NotNesting(string frame)
    {
        (ParseResult Result, RelayRequest Request) parsed = Parse(frame);

        ShouldBeError(parsed, RelayErrorCodes.BadRequest, id: "t1");
        parsed.Result.ErrorMessage.Should().Contain("unterminated object").And.NotContain("nesting");
    }

    [Theory]
    [InlineData("""{"type":"ping","id":"t1","x":[1,2""")]
    [InlineData("""{"type":"ping","id":"t1","x":[{"a":1}""")]
    [InlineData("""{"type":"ping","id":"t1","x":[""")]
    public void Parse_TruncatedArray_SaysUnterminatedArray(string frame)
    {
        (ParseResult Result, RelayRequest Request) parsed = Parse(frame);

        ShouldBeError(parsed, RelayErrorCodes.BadRequest, id: "t1");
        parsed.Result.ErrorMessage.Should().Contain("unterminated array").And.NotContain("nesting");
    }

    [Theory]
    [InlineData("""{"type":"ping","id":"t1","x":"abc""", "\"abc")]
    [InlineData("""{"type":"ping","id":"t1","x":"ab\"c""", "\"ab")]
    [InlineData("""{"type":"ping","id":"t1","x":["a","b""", "\"b")]
    [InlineData("""{"type":"ping","id":"t1","x""", "\"x")]
    public void Parse_TruncatedString_SaysUnterminatedStringAndWhereItStarts(string frame, string stringFrom)
    {
        (ParseResult Result, RelayRequest Request) parsed = Parse(frame);

        ShouldBeError(parsed, RelayErrorCodes.BadRequest, id: "t1");
        parsed.Result.ErrorMessage.Should().Be($"unterminated string starting at byte {frame.LastIndexOf(stringFrom, StringComparison.Ordinal)}");
    }

    [Theory]
    [InlineData("""{"type":"ping","id":"t1","x":tru}""", "tru}")]
    [InlineData("""{"type":"ping","id":"t1",}""", "}")]
    [InlineData("""{"type":"ping","id":"t1","x":[1,,2]}""", ",2]}")]
    [InlineData("""{"type":"ping","id":"t1", /* c */ "x":1}""", "/* c")]
    [InlineData("""{"type":"ping","id":"t1","x":'a'}""", "'a'")]
    public void Parse_InvalidToken_SaysWhichByte(string frame, string invalidFrom)
    {
        (ParseResult Result, RelayRequest Request) parsed = Parse(frame);

        ShouldBeError(parsed, RelayErrorCodes.BadRequest, id: "t1");
        parsed.Result.ErrorMessage.Should().Be($"invalid JSON token at byte {frame.LastIndexOf(invalidFrom, StringComparison.Ordinal)}");
    }

    [Fact]
    public void Parse_NotJsonAtAll_InvalidTokenAtByteZero()
        => Parse("hello").Result.ErrorMessage.Should().Be("invalid JSON token at byte 0");

    [Fact]
    public void Parse_NestingOverMaxDepth_SaysNesting()
        => Parse("{\"type\":\"ping\",\"id\":\"d\",\"x\":" + Nested(64) + "}").Result.ErrorMessage.Should().Be("JSON nesting deeper than 64");

    [Fact]
    public void Parse_TruncatedPastMaxDepth_SaysNesting()
    {
        // The reader meets the depth limit before the end of the frame: that is the first thing wrong.
        (ParseResult Result, RelayRequest Request) parsed = Parse("{\"type\":\"ping\",\"id\":\"d\",\"x\":" + new string('[', 100));

        ShouldBeError(parsed, RelayErrorCodes.BadRequest, id: "d");
        parsed.Result.ErrorMessage.Should().Be("JSON nesting deeper than 64");
    }

    [Fact]
    public void Parse_TruncatedJustUnderMaxDepth_SaysUnterminatedArray()
    {
        // 63 open arrays inside the frame object: at the limit, not over it; what is wrong is the missing end.
        (ParseResult Result, RelayRequest Request) parsed = Parse("{\"type\":\"ping\",\"id\":\"d\",\"x\":" + new string('[', 63));

        ShouldBeError(parsed, RelayErrorCodes.BadRequest, id: "d");
        parsed.Result.ErrorMessage.Should().Contain("unterminated array").And.NotContain("nesting");
    }

    [Theory]
    [InlineData("""{"type":"ping","id":"t1"} x""")]
    [InlineData("""{"type":"ping","id":"t1"}{"type":"ping"}""")]
    public void Parse_ContentAfterTheObject_SaysExactlyOneObject(string frame)
    {
        (ParseResult Result, RelayRequest Request) parsed = Parse(frame);

        ShouldBeError(parsed, RelayErrorCodes.BadRequest, id: "t1");
        parsed.Result.ErrorMessage.Should().Be("frame must hold exactly one JSON object");
    }

    [Theory]
    [InlineData("")]
    [InlineData("  \r\n")]
    public void Parse_EmptyFrame_SaysEmpty(string frame)
    {
        (ParseResult Result, RelayRequest Request) parsed = Parse(frame);

        ShouldBeError(parsed, RelayErrorCodes.BadRequest);
        parsed.Result.ErrorMessage.Should().Contain("empty");
    }

    // ---- forward compatibility and server-owned fields ----

    [Fact]
    public void Parse_UnknownFields_AreIgnored()
    {
        RelayRequest request = ShouldBeValid(Parse("""{"type":"ping","id":"p","future":{"x":[1,{"y":null}],"z":"w"},"n":1.5,"flag":true,"none":null,"list":[]}"""));

        request.Type.Should().Be(RequestType.Ping);
        request.Id.Should().Be("p");
    }

    [Fact]
    public void Parse_ServerOwnedFields_AreIgnoredWhateverTheirType()
    {
        RelayRequest request = ShouldBeValid(Parse("""{"type":"send","from":"mallory","user":{"x":1},"seq":-3,"group":"g","body":{"from":"kept in body"}}"""));

        request.Group.Should().Be("g");
        Encoding.UTF8.GetString(request.Body.Span).Should().Be("""{"from":"kept in body"}""");
    }

    [Fact]
    public void Parse_EscapedPropertyName_IsMatchedByValue()
        => ShouldBeValid(Parse("""{"\u0074ype":"ping","\u0069d":"e"}""")).Id.Should().Be("e");

    [Fact]
    public void Parse_PropertyNames_AreCaseSensitive()
        => ShouldBeError(Parse("""{"Type":"ping"}"""), RelayErrorCodes.UnknownType);

    // ---- which error code ----

    [Theory]
    [InlineData("""{"id":"t"}""")]
    [InlineData("""{"id":"t","type":5}""")]
    [InlineData("""{"id":"t","type":null}""")]
    [InlineData("""{"id":"t","type":["send"]}""")]
    [InlineData("""{"id":"t","type":{"name":"send"}}""")]
    [InlineData("""{"id":"t","type":"subscribe"}""")]
    [InlineData("""{"id":"t","type":"SEND"}""")]
    [InlineData("""{"id":"t","type":""}""")]
    public void Parse_TypeMissingOrUnknown_UnknownTypeRepeatingId(string frame)
        => ShouldBeError(Parse(frame), RelayErrorCodes.UnknownType, id: "t");

    [Fact]
    public void Parse_UnknownTypeAndBadField_UnknownTypeWins()
        => ShouldBeError(Parse("""{"type":"nope","id":"t","group":5}"""), RelayErrorCodes.UnknownType, id: "t");

    [Fact]
    public void Parse_UnknownTypeWithHugeName_MessageIsBounded()
    {
        (ParseResult Result, RelayRequest Request) parsed = Parse("{\"type\":\"" + new string('x', 10_000) + "\"}");

        ShouldBeError(parsed, RelayErrorCodes.UnknownType);
        parsed.Result.ErrorMessage!.Length.Should().BeLessThan(200);
    }

    [Theory]
    [InlineData("[]")]
    [InlineData("[{\"type\":\"ping\"}]")]
    [InlineData("\"ping\"")]
    [InlineData("42")]
    [InlineData("null")]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("{")]
    [InlineData("{\"type\":\"ping\"")]
    [InlineData("{\"type\":\"ping\",}")]
    [InlineData("{\"type\":'ping'}")]
    [InlineData("{type:\"ping\"}")]
    [InlineData("{\"type\":\"ping\" /* comment */}")]
    [InlineData("{\"type\":\"ping\"} // comment")]
    public void Parse_NotOneJsonObject_BadRequest(string frame)
        => Parse(frame).Result.ErrorCode.Should().Be(RelayErrorCodes.BadRequest);

    [Theory]
    [InlineData("{\"type\":\"ping\",\"id\":\"t\"}{\"type\":\"ping\"}")]
    [InlineData("{\"type\":\"ping\",\"id\":\"t\"} {\"type\":\"ping\"}")]
    [InlineData("{\"type\":\"ping\",\"id\":\"t\"}\n{\"type\":\"ping\"}")]
    [InlineData("{\"type\":\"ping\",\"id\":\"t\"}x")]
    [InlineData("{\"type\":\"ping\",\"id\":\"t\"}]")]
    [InlineData("{\"type\":\"ping\",\"id\":\"t\"}1")]
    public void Parse_TrailingData_BadRequestRepeatingId(string frame)
        => ShouldBeError(Parse(frame), RelayErrorCodes.BadRequest, id: "t");

    [Fact]
    public void Parse_TrailingWhitespace_IsAccepted()
        => ShouldBeValid(Parse("  {\"type\":\"ping\"} \r\n\t "));

    [Fact]
    public void Parse_InvalidUtf8_BadRequest()
    {
        byte[] frame = Encoding.UTF8.GetBytes("""{"type":"ping","id":"x"}""");
        byte[] broken = frame.Take(21).Concat(new byte[] { 0xC3, 0x28 }).Concat(frame.Skip(21)).ToArray(); // a bad 2-byte sequence inside the id

        (ParseResult Result, RelayRequest Request) parsed = Parse(broken);

        ShouldBeError(parsed, RelayErrorCodes.BadRequest);
        parsed.Result.ErrorMessage.Should().Contain("UTF-8");
    }

    [Theory]
    [InlineData(new byte[] { 0xFF })]
    [InlineData(new byte[] { 0xED, 0xA0, 0x80 })] // an encoded surrogate
    [InlineData(new byte[] { 0xC0, 0xAF })] // overlong
    [InlineData(new byte[] { 0xE2, 0x82 })] // truncated
    public void Parse_InvalidUtf8InBody_BadRequest(byte[] bad)
    {
        byte[] head = Encoding.UTF8.GetBytes("{\"type\":\"send\",\"group\":\"g\",\"body\":\"");
        byte[] tail = Encoding.UTF8.GetBytes("\"}");

        ShouldBeError(Parse(head.Concat(bad).Concat(tail).ToArray()), RelayErrorCodes.BadRequest);
    }

    [Theory]
    [InlineData("id")]
    [InlineData("group")]
    [InlineData("value")]
    [InlineData("type")]
    public void Parse_LoneSurrogateEscapeInAStringField_BadRequestNotAnException(string field)
    {
        // "\ud800" is valid JSON syntax but not a valid string: decoding it must become a protocol error.
        string frame = field switch
        {
            "id" => """{"type":"ping","id":"\ud800"}""",
            "group" => """{"type":"members","group":"a\udc00"}""",
            "value" => """{"type":"status","value":"\ud800x"}""",
            _ => """{"type":"\ud800"}""",
        };

        Parse(frame).Result.IsError.Should().BeTrue();
    }

    [Fact]
    public void Parse_LoneSurrogateEscapeInBody_IsRelayedAsIs()
    {
        // The body is never decoded, only validated as JSON: its escapes travel unchanged.
        RelayRequest request = ShouldBeValid(Parse("""{"type":"send","group":"g","body":"\ud800"}"""));

        Encoding.UTF8.GetString(request.Body.Span).Should().Be("\"\\ud800\"");
    }

    // ---- duplicates ----

    [Fact]
    public void Parse_DuplicateField_LastOccurrenceWins()
    {
        RelayRequest request = ShouldBeValid(Parse("""{"type":"ping","type":"send","id":"a","id":"b","group":"g1","group":"g2","body":1,"body":[2]}"""));

        request.Type.Should().Be(RequestType.Send);
        request.Id.Should().Be("b");
        request.Group.Should().Be("g2");
        Encoding.UTF8.GetString(request.Body.Span).Should().Be("[2]");
    }

    [Theory]
    [InlineData("""{"type":"send","id":"x","group":5,"group":"ok","body":1}""")]
    [InlineData("""{"type":"send","id":"x","group":"ok","group":5,"body":1}""")]
    [InlineData("""{"type":"send","id":"x","group":"ok","body":1,"echo":true,"echo":"no"}""")]
    public void Parse_DuplicateFieldWithOneInvalidOccurrence_BadRequest(string frame)
        => ShouldBeError(Parse(frame), RelayErrorCodes.BadRequest, id: "x");
}
