using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;
using System.Text.Json;
using FluentAssertions;
using GroupRelay.Internal;
using Xunit;

namespace GroupRelay.Core.Tests;

public sealed class JsonCompactorTests
{
    private static string Compact(string json)
    {
        byte[] input = Encoding.UTF8.GetBytes(json);
        byte[] output = new byte[input.Length];
        int length = JsonCompactor.Compact(input, output);
        JsonCompactor.CompactLength(input).Should().Be(length, "CompactLength predicts what Compact writes");
        return Encoding.UTF8.GetString(output, 0, length);
    }

    [Theory]
    [InlineData("{ \"a\" : 1 }", "{\"a\":1}")]
    [InlineData("[ 1 ,\n\t2 ,\r\n 3 ]", "[1,2,3]")]
    [InlineData("{\n  \"a\": {\n    \"b\": [ true, false, null ]\n  }\n}", "{\"a\":{\"b\":[true,false,null]}}")]
    [InlineData("  \"just a string\"  ", "\"just a string\"")]
    [InlineData(" -1.5e+10 ", "-1.5e+10")]
    public void Compact_WhitespaceBetweenTokens_IsRemoved(string json, string expected)
        => Compact(json).Should().Be(expected);

    [Theory]
    [InlineData("{ \"a b\" : \"c  d\\te\" }", "{\"a b\":\"c  d\\te\"}")]
    [InlineData("[ \"\\\"\" , \" \\\" \" ]", "[\"\\\"\",\" \\\" \"]")] // escaped quotes do not end a string
    [InlineData("[ \"\\\\\" , \" x \" ]", "[\"\\\\\",\" x \"]")] // an escaped backslash before the closing quote
    [InlineData("[ \"\\\\\\\"\" , 1 ]", "[\"\\\\\\\"\",1]")] // backslash, then escaped quote
    [InlineData("{ \"k\" : \"grüße 🎉 日本 \" }", "{\"k\":\"grüße 🎉 日本 \"}")]
    [InlineData("[ \"\\u0020 \\n \\/ \" ]", "[\"\\u0020 \\n \\/ \"]")]
    public void Compact_WhitespaceInsideStrings_IsKept(string json, string expected)
        => Compact(json).Should().Be(expected);

    [Theory]
    [InlineData("{\"a\":1}")]
    [InlineData("[\"x y\",\"\\\" \\\"\"]")]
    [InlineData("\"  \"")]
    [InlineData("{\"k\":\"grüße 🎉\"}")]
    [InlineData("12")]
    public void IsCompact_CompactJson_True(string json)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(json);
        JsonCompactor.IsCompact(bytes).Should().BeTrue();
        Compact(json).Should().Be(json);
    }

    [Theory]
    [InlineData("{\"a\": 1}")]
    [InlineData("[1,\n2]")]
    [InlineData(" 12")]
    [InlineData("[\"\\\\\", 1]")]
    public void IsCompact_WhitespaceOutsideStrings_False(string json)
        => JsonCompactor.IsCompact(Encoding.UTF8.GetBytes(json)).Should().BeFalse();

    [Fact]
    public void IsCompact_Empty_True()
        => JsonCompactor.IsCompact(ReadOnlySpan<byte>.Empty).Should().BeTrue();

    [Fact]
    public void Compact_GeneratedJsonValues_MatchesCompactFormAndRoundTrips()
    {
        var random = new Random(20251126);
        for (int i = 0; i < 2000; i++)
        {
            var pretty = new StringBuilder();
            var compact = new StringBuilder();
            WriteValue(random, pretty, compact, depth: 0);
            string prettyJson = pretty.ToString();
            string compactJson = compact.ToString();
            byte[] prettyBytes = Encoding.UTF8.GetBytes(prettyJson);

            string compacted = Compact(prettyJson);

            compacted.Should().Be(compactJson, $"case {i}: {prettyJson}");
            JsonCompactor.IsCompact(prettyBytes).Should().Be(prettyJson == compactJson, $"case {i}: {prettyJson}");
            JsonCompactor.IsCompact(Encoding.UTF8.GetBytes(compactJson)).Should().BeTrue($"case {i}: {compactJson}");
            using JsonDocument before = JsonDocument.Parse(prettyJson);
            using JsonDocument after = JsonDocument.Parse(compacted);
            JsonElement.DeepEquals(before.RootElement, after.RootElement).Should().BeTrue($"case {i}: {prettyJson}");
        }
    }

    // ---- a small generator of JSON values, written twice: with random whitespace and without ----

    private static readonly string[] Whitespace = { " ", "  ", "\t", "\n", "\r\n", " \n\t " };

    private static void Gap(Random random, StringBuilder pretty)
    {
        if (random.Next(3) == 0)
        {
            pretty.Append(Whitespace[random.Next(Whitespace.Length)]);
        }
    }

    private static void Both(StringBuilder pretty, StringBuilder compact, string token)
    {
        pretty.Append(token);
        compact.Append(token);
    }

    private static void WriteValue(Random random, StringBuilder pretty, StringBuilder compact, int depth)
    {
        Gap(random, pretty);
        int kind = depth >= 4 ? random.Next(4) : random.Next(6);
        switch (kind)
        {
            case 0:
                Both(pretty, compact, RandomString(random));
                break;
            case 1:
                Both(pretty, compact, RandomNumber(random));
                break;
            case 2:
                Both(pretty, compact, random.Next(3) switch { 0 => "true", 1 => "false", _ => "null" });
                break;
            case 3:
                Both(pretty, compact, random.Next(2) == 0 ? "\"\"" : "\" \"");
                break;
            case 4:
            {
                Both(pretty, compact, "[");
                int count = random.Next(4);
                for (int i = 0; i < count; i++)
                {
                    if (i > 0)
                    {
                        Gap(random, pretty);
                        Both(pretty, compact, ",");
                    }

                    WriteValue(random, pretty, compact, depth + 1);
                }

                Gap(random, pretty);
                Both(pretty, compact, "]");
                break;
            }

            default:
            {
                Both(pretty, compact, "{");
                int count = random.Next(4);
                for (int i = 0; i < count; i++)
                {
                    if (i > 0)
                    {
                        Gap(random, pretty);
                        Both(pretty, compact, ",");
                    }

                    Gap(random, pretty);
                    Both(pretty, compact, RandomString(random, key: i));
                    Gap(random, pretty);
                    Both(pretty, compact, ":");
                    WriteValue(random, pretty, compact, depth + 1);
                }

                Gap(random, pretty);
                Both(pretty, compact, "}");
                break;
            }
        }

        Gap(random, pretty);
    }

    private static string RandomNumber(Random random) => random.Next(5) switch
    {
        0 => random.Next(-1000, 1000).ToString(CultureInfo.InvariantCulture),
        1 => (random.NextDouble() * 1e6 - 5e5).ToString("R", CultureInfo.InvariantCulture),
        2 => random.Next(1, 9).ToString(CultureInfo.InvariantCulture) + "e+" + random.Next(0, 20).ToString(CultureInfo.InvariantCulture),
        3 => "-0.5E-3",
        _ => "0",
    };

    // Pieces whose escapes must survive byte for byte: quotes, backslashes, whitespace and non-ASCII inside strings.
    private static readonly string[] StringPieces =
    {
        "a", "Z", " ", "  ", "\\\"", "\\\\", "\\n", "\\t", "\\r", "\\/", "\\u0041", "\\u00e9", "\\ud83d\\ude00",
        "é", "ß", "日本", "🎉", "\\b", "\\f", "{", "}", "[", "]", ",", ":", "\\\\\\\"",
    };

    private static string RandomString(Random random, int key = -1)
    {
        var text = new StringBuilder("\"");
        if (key >= 0)
        {
            // Keys of one object must differ for the round trip to compare equal.
            text.Append('k').Append(key.ToString(CultureInfo.InvariantCulture));
        }

        int pieces = random.Next(6);
        for (int i = 0; i < pieces; i++)
        {
            text.Append(StringPieces[random.Next(StringPieces.Length)]);
        }

        return text.Append('"').ToString();
    }
}
