using System.Text;
using System.Text.Json;

namespace GroupRelay.Core.Tests.Infrastructure;

internal static class Json
{
    public static JsonElement Parse(string json)
    {
        using JsonDocument document = JsonDocument.Parse(json);
        return document.RootElement.Clone();
    }

    public static JsonElement Parse(byte[] utf8)
    {
        using JsonDocument document = JsonDocument.Parse(utf8);
        return document.RootElement.Clone();
    }

    public static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);

    public static string Type(JsonElement frame)
        => frame.ValueKind == JsonValueKind.Object && frame.TryGetProperty("type", out JsonElement type) ? type.GetString() ?? string.Empty : string.Empty;

    public static string? Id(JsonElement frame)
        => frame.TryGetProperty("id", out JsonElement id) ? id.GetString() : null;

    public static string? Str(JsonElement frame, string name)
        => frame.TryGetProperty(name, out JsonElement value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    public static long Long(JsonElement frame, string name) => frame.GetProperty(name).GetInt64();
}
