using System.Collections.Generic;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace GroupRelay.Client.Internal;

/// <summary>
/// Any frame the server sends (PROTOCOL.md sections 2 to 4): one type with every field any frame has, so one
/// source-generated read parses them all. Unknown fields are ignored (section 7).
/// </summary>
internal sealed class ServerFrame
{
    public string? Type { get; set; }

    public string? Id { get; set; }

    public string? ConnectionId { get; set; }

    public string? User { get; set; }

    public List<string>? Groups { get; set; }

    public Dictionary<string, WirePosition>? Positions { get; set; }

    public string? Group { get; set; }

    public string? From { get; set; }

    public long? Seq { get; set; }

    public long? Ts { get; set; }

    public JsonElement Body { get; set; }

    public string? Epoch { get; set; }

    public bool? Complete { get; set; }

    public bool? Duplicate { get; set; }

    public string? Code { get; set; }

    public string? Message { get; set; }

    /// <summary>A bool in a presence event, an array of <c>{user,status}</c> in a presence result, an array of ids in a members result.</summary>
    public JsonElement Online { get; set; }

    public List<string>? Offline { get; set; }

    public List<string>? Forbidden { get; set; }

    public string? Status { get; set; }
}

/// <summary>A group's position in <c>welcome</c>.</summary>
internal sealed class WirePosition
{
    public string? Epoch { get; set; }

    public long Seq { get; set; }
}

/// <summary>A <c>watch</c> result's online entry.</summary>
internal sealed class WireOnlineUser
{
    public string? User { get; set; }

    public string? Status { get; set; }
}

/// <summary>A request to the server (PROTOCOL.md section 3). Null fields are left out.</summary>
internal sealed class ClientRequest
{
    public string Type { get; set; } = string.Empty;

    public string? Id { get; set; }

    public string? Group { get; set; }

    public JsonElement? Body { get; set; }

    public long? After { get; set; }

    public string? Epoch { get; set; }

    public int? Limit { get; set; }

    public IReadOnlyList<string>? Users { get; set; }
}

/// <summary>A <c>status</c> request: its <c>value</c> is written also when null (null clears the status).</summary>
internal sealed class StatusRequest
{
    public string Type { get; set; } = "status";

    public string? Id { get; set; }

    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public string? Value { get; set; }
}

/// <summary>The source-generated serializer for every frame (no reflection; trimming- and AOT-safe).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ServerFrame))]
[JsonSerializable(typeof(List<WireOnlineUser>))]
[JsonSerializable(typeof(List<string>))]
[JsonSerializable(typeof(ClientRequest))]
[JsonSerializable(typeof(StatusRequest))]
internal sealed partial class ClientJsonContext : JsonSerializerContext
{
}
