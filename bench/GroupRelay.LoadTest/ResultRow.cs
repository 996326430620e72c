using System.Collections.Generic;
using System.Text.Json.Serialization;

namespace GroupRelay.LoadTest;

/// <summary>
/// One measured figure set for (system, scenario, group size). The first fields are the published JSON schema
/// (absent figures are null); the others only feed the Markdown tables.
/// </summary>
internal sealed class ResultRow
{
    [JsonPropertyName("system")]
    public string System { get; set; } = string.Empty;

    [JsonPropertyName("scenario")]
    public string Scenario { get; set; } = string.Empty;

    [JsonPropertyName("groupSize")]
    public int? GroupSize { get; set; }

    [JsonPropertyName("deliveriesPerSec")]
    public double? DeliveriesPerSec { get; set; }

    [JsonPropertyName("deliveriesPerCpuSec")]
    public double? DeliveriesPerCpuSec { get; set; }

    [JsonPropertyName("p50Ms")]
    public double? P50Ms { get; set; }

    [JsonPropertyName("p99Ms")]
    public double? P99Ms { get; set; }

    [JsonPropertyName("p999Ms")]
    public double? P999Ms { get; set; }

    [JsonPropertyName("maxMs")]
    public double? MaxMs { get; set; }

    [JsonPropertyName("memPerConnBytes")]
    public double? MemPerConnBytes { get; set; }

    [JsonPropertyName("connectsPerSec")]
    public double? ConnectsPerSec { get; set; }

    [JsonPropertyName("lost")]
    public long? Lost { get; set; }

    /// <summary>Figures outside the schema: server and client CPU use, GC heap per connection, offered rate, load average.</summary>
    [JsonPropertyName("extra")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public Dictionary<string, double>? Extra { get; set; }

    public ResultRow SchemaOnly() => new()
    {
        System = System,
        Scenario = Scenario,
        GroupSize = GroupSize,
        DeliveriesPerSec = DeliveriesPerSec,
        DeliveriesPerCpuSec = DeliveriesPerCpuSec,
        P50Ms = P50Ms,
        P99Ms = P99Ms,
        P999Ms = P999Ms,
        MaxMs = MaxMs,
        MemPerConnBytes = MemPerConnBytes,
        ConnectsPerSec = ConnectsPerSec,
        Lost = Lost,
    };

    public double? GetExtra(string key) => Extra is not null && Extra.TryGetValue(key, out double value) ? value : null;
}
