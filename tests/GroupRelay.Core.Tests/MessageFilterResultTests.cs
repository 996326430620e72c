using System;
using System.Text;
using System.Text.Json;
using FluentAssertions;
using Xunit;

namespace GroupRelay.Core.Tests;

/// <summary>What a message filter may return: a replacement is one valid JSON value; a refusal has a reason.</summary>
public sealed class MessageFilterResultTests
{
    [Theory]
    [InlineData("")]
    [InlineData("{")]
    [InlineData("{\"a\":1} {\"b\":2}")]
    [InlineData("not json")]
    public void Replace_WithBytesThatAreNotOneJsonValue_Throws(string body)
    {
        Action replace = () => MessageFilterResult.Replace(Encoding.UTF8.GetBytes(body));

        replace.Should().Throw<ArgumentException>().WithParameterName("utf8Json");
    }

    [Theory]
    [InlineData("\"text\"")]
    [InlineData("42")]
    [InlineData("[1, 2]")]
    [InlineData("{ \"text\" : \"x\" }")]
    public void Replace_WithOneJsonValue_KeepsItsBytes(string body)
    {
        MessageFilterResult result = MessageFilterResult.Replace(Encoding.UTF8.GetBytes(body));

        Encoding.UTF8.GetString(result.Replacement!.Value.Span).Should().Be(body);
        result.Refusal.Should().BeNull();
    }

    [Fact]
    public void Replace_WithAJsonElement_SerialisesIt()
    {
        using JsonDocument document = JsonDocument.Parse("{\"text\":\"[redacted]\"}");

        MessageFilterResult result = MessageFilterResult.Replace(document.RootElement);

        Encoding.UTF8.GetString(result.Replacement!.Value.Span).Should().Be("{\"text\":\"[redacted]\"}");
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    public void Refuse_WithoutAReason_Throws(string reason)
    {
        Action refuse = () => MessageFilterResult.Refuse(reason);

        refuse.Should().Throw<ArgumentException>();
    }

    [Fact]
    public void Refuse_WithAReasonLongerThan1000Characters_Throws()
    {
        Action refuse = () => MessageFilterResult.Refuse(new string('x', 1001));

        refuse.Should().Throw<ArgumentException>().WithMessage("*1,000*");
    }

    [Fact]
    public void Accept_IsOneSharedInstance_WithNeitherReplacementNorRefusal()
    {
        MessageFilterResult.Accept.Should().BeSameAs(MessageFilterResult.Accept);
        MessageFilterResult.Accept.Replacement.Should().BeNull();
        MessageFilterResult.Accept.Refusal.Should().BeNull();
    }
}
