using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;

namespace GroupRelay.LoadTest;

/// <summary>Markdown tables: per scenario and figure, one row per group size, one column per system, then the ratios.</summary>
internal static class Report
{
    private sealed record Figure(string Scenario, string Title, Func<ResultRow, double?> Value, string Format, bool HigherIsBetter);

    private static readonly Figure[] Figures =
    {
        new("fanout", "Fan-out: deliveries/s", r => r.DeliveriesPerSec, "N0", true),
        new("fanout", "Fan-out: deliveries per server CPU-second", r => r.DeliveriesPerCpuSec, "N0", true),
        new("fanout", "Fan-out: lost deliveries (must be 0)", r => r.Lost, "N0", false),
        new("fanout", "Fan-out: connections closed by the server or broken (must be 0)", r => r.GetExtra("connectionsLost"), "N0", false),
        new("fanout", "Fan-out: server CPU % (100 = one core)", r => r.GetExtra("serverCpuPct"), "N0", false),
        new("fanout", "Fan-out: client CPU % (near 100 = the client is the bottleneck)", r => r.GetExtra("clientCpuPct"), "N0", false),
        new("fanout", "Fan-out, two nodes through Redis: redis-server CPU % (/proc utime+stime)", r => r.Extra is { } e && e.TryGetValue("redisCpuPct", out double v) ? v : null, "N0", false),
        new("fanout", "Fan-out, two nodes through Redis: node A CPU % (senders and odd receivers)", r => r.Extra is { } e && e.TryGetValue("nodeACpuPct", out double v) ? v : null, "N0", false),
        new("fanout", "Fan-out, two nodes through Redis: node B CPU % (even receivers)", r => r.Extra is { } e && e.TryGetValue("nodeBCpuPct", out double v) ? v : null, "N0", false),
        new("latency", "Latency: offered messages/s (fraction of SignalR's saturation)", r => r.GetExtra("rateMsgsPerSec"), "N0", true),
        new("latency", "Latency: p50 ms", r => r.P50Ms, "N3", false),
        new("latency", "Latency: p99 ms", r => r.P99Ms, "N3", false),
        new("latency", "Latency: p99.9 ms", r => r.P999Ms, "N3", false),
        new("latency", "Latency: max ms", r => r.MaxMs, "N3", false),
        new("latency", "Latency: lost deliveries", r => r.Lost, "N0", false),
        new("latency", "Latency: connections closed by the server (GroupRelay: 4001 slow consumer) or broken", r => r.GetExtra("connectionsLost"), "N0", false),
        new("idle", "Idle: server working set per connection (bytes, after forced GC)", r => r.MemPerConnBytes, "N0", false),
        new("idle", "Idle: server GC heap per connection (bytes, after forced GC)", r => r.GetExtra("gcHeapPerConnBytes"), "N0", false),
        new("connect", "Connect: connections/s (connect + authenticate + join)", r => r.ConnectsPerSec, "N0", true),
        new("connect", "Connect: server CPU ms per connection", r => r.GetExtra("serverCpuMsPerConnect"), "N3", false),
    };

    public static string Markdown(IReadOnlyList<ResultRow> results, IReadOnlyList<string> systems)
    {
        var sb = new StringBuilder();
        foreach (Figure figure in Figures)
        {
            List<ResultRow> rows = results.Where(r => r.Scenario == figure.Scenario).ToList();
            if (rows.Count == 0 || rows.All(r => figure.Value(r) is null))
            {
                continue;
            }

            sb.AppendLine("### " + figure.Title).AppendLine();
            List<string> others = systems.Where(s => s != SystemNames.GroupRelay).ToList();
            bool ratios = systems.Contains(SystemNames.GroupRelay);
            sb.Append("| group size | ").AppendJoin(" | ", systems.Select(SystemNames.Display));
            if (ratios)
            {
                sb.Append(" | ").AppendJoin(" | ", others.Select(o => "GroupRelay/" + RatioName(o)));
            }

            sb.AppendLine(" | load avg (1m) |");
            sb.Append("| ---: | ").AppendJoin(" | ", systems.Select(_ => "---:"));
            if (ratios)
            {
                sb.Append(" | ").AppendJoin(" | ", others.Select(_ => "---:"));
            }

            sb.AppendLine(" | ---: |");
            foreach (int? size in rows.Select(r => r.GroupSize).Distinct().OrderBy(s => s))
            {
                double? Get(string system) => rows.FirstOrDefault(r => r.System == system && r.GroupSize == size) is { } row ? figure.Value(row) : null;
                string loads = string.Join(" / ", systems.Select(sys => rows.FirstOrDefault(r => r.System == sys && r.GroupSize == size)?.GetExtra("loadAverage1m") is double l ? l.ToString("0.0", CultureInfo.InvariantCulture) : "-"));
                sb.Append("| ").Append(size?.ToString(CultureInfo.InvariantCulture) ?? "-").Append(" | ")
                  .AppendJoin(" | ", systems.Select(sys => Format(Get(sys), figure.Format)));
                if (ratios)
                {
                    sb.Append(" | ").AppendJoin(" | ", others.Select(o => Ratio(Get(SystemNames.GroupRelay), Get(o))));
                }

                sb.Append(" | ").Append(loads).AppendLine(" |");
            }

            sb.AppendLine();
        }

        CrossNode(sb, results);
        Compared(sb, results);
        return sb.ToString();
    }

    /// <summary>
    /// The interleaved comparisons (<see cref="SystemNames.Comparisons"/>: the current build against the
    /// <c>--baseline-server</c> build, retention on against off), same run: deliveries/s, subject / reference, for every
    /// scenario and group size both systems measured (only fan-out has the figure today). One table per title.
    /// </summary>
    private static void Compared(StringBuilder sb, IReadOnlyList<ResultRow> results)
    {
        double? Deliveries(string system, ResultRow like)
            => results.FirstOrDefault(r => r.System == system && r.Scenario == like.Scenario && r.GroupSize == like.GroupSize)?.DeliveriesPerSec;

        foreach (IGrouping<string, SystemNames.Comparison> table in SystemNames.Comparisons.GroupBy(c => c.Title))
        {
            // Only where the subject ran too: a reference run alone has nothing to be compared with.
            var rows = table.SelectMany(c => results
                    .Where(r => r.System == c.Reference && r.DeliveriesPerSec is not null && Deliveries(c.Subject, r) is not null)
                    .Select(r => (Comparison: c, Reference: r)))
                .OrderBy(x => Array.IndexOf(SystemNames.All, x.Comparison.Subject)).ThenBy(x => x.Reference.Scenario, StringComparer.Ordinal).ThenBy(x => x.Reference.GroupSize)
                .ToList();
            if (rows.Count == 0)
            {
                continue;
            }

            SystemNames.Comparison first = table.First();
            sb.AppendLine($"### {table.Key}: deliveries/s ({first.Reading})").AppendLine();
            sb.AppendLine($"| system | compared with | scenario | group size | {first.SubjectLabel} | {first.ReferenceLabel} | {first.SubjectLabel} / {first.ReferenceLabel} |")
              .AppendLine("| --- | --- | --- | ---: | ---: | ---: | ---: |");
            foreach ((SystemNames.Comparison comparison, ResultRow row) in rows)
            {
                double? subject = Deliveries(comparison.Subject, row);
                sb.Append("| ").Append(comparison.Subject).Append(" | ").Append(comparison.Reference).Append(" | ").Append(row.Scenario).Append(" | ").Append(row.GroupSize?.ToString(CultureInfo.InvariantCulture) ?? "-")
                  .Append(" | ").Append(Format(subject, "N0")).Append(" | ").Append(Format(row.DeliveriesPerSec, "N0"))
                  .Append(" | ").Append(Ratio(subject, row.DeliveriesPerSec)).AppendLine(" |");
            }

            sb.AppendLine();
        }
    }

    /// <summary>Two nodes through Redis against one node, same run: fan-out deliveries/s, cross-node / single-node.</summary>
    private static void CrossNode(StringBuilder sb, IReadOnlyList<ResultRow> results)
    {
        List<ResultRow> two = results.Where(r => r.Scenario == "fanout" && r.System == SystemNames.GroupRelayRedis).ToList();
        if (two.Count == 0)
        {
            return;
        }

        sb.AppendLine("### Fan-out: two nodes through Redis / one node (deliveries/s; goal >= 0.70)").AppendLine();
        sb.AppendLine("| group size | one node | two nodes via Redis | ratio |").AppendLine("| ---: | ---: | ---: | ---: |");
        foreach (ResultRow row in two.OrderBy(r => r.GroupSize))
        {
            double? single = results.FirstOrDefault(r => r.Scenario == "fanout" && r.System == SystemNames.GroupRelay && r.GroupSize == row.GroupSize)?.DeliveriesPerSec;
            string ratio = single is double one && one > 0 && row.DeliveriesPerSec is double both ? (both / one).ToString("0.00", CultureInfo.InvariantCulture) : "-";
            sb.Append("| ").Append(row.GroupSize?.ToString(CultureInfo.InvariantCulture) ?? "-").Append(" | ").Append(Format(single, "N0")).Append(" | ")
              .Append(Format(row.DeliveriesPerSec, "N0")).Append(" | ").Append(ratio).AppendLine(" |");
        }

        sb.AppendLine();
    }

    private static string RatioName(string system) => system switch
    {
        SystemNames.Raw => "ceiling",
        SystemNames.RawCoalescing => "coalescing ceiling",
        _ => SystemNames.Display(system),
    };

    public static string Summary(ResultRow r) => r.Scenario switch
    {
        "fanout" => $"group {r.GroupSize}: {Format(r.DeliveriesPerSec, "N0")} deliveries/s, {Format(r.DeliveriesPerCpuSec, "N0")} per server CPU-s, lost {r.Lost}, server CPU {Format(r.GetExtra("serverCpuPct"), "N0")}%, client CPU {Format(r.GetExtra("clientCpuPct"), "N0")}%{(r.Extra is { } e && e.TryGetValue("redisCpuPct", out double redis) ? $" (node A {Format(r.GetExtra("nodeACpuPct"), "N0")}%, node B {Format(r.GetExtra("nodeBCpuPct"), "N0")}%, redis {Format(redis, "N0")}%)" : string.Empty)}{LostReasons(r)}",
        "latency" => $"group {r.GroupSize} at {Format(r.GetExtra("rateMsgsPerSec"), "N0")} msg/s: p50 {Format(r.P50Ms, "N3")} ms, p99 {Format(r.P99Ms, "N3")} ms, p99.9 {Format(r.P999Ms, "N3")} ms, max {Format(r.MaxMs, "N3")} ms, lost {r.Lost}, connections lost {Format(r.GetExtra("connectionsLost"), "N0")}, pacer behind at most {Format(r.GetExtra("pacerBehindMaxMs"), "N1")} ms{(r.GetExtra("saturated") == 1 ? " (SATURATED: the pacer fell behind)" : string.Empty)}{LostReasons(r)}",
        "idle" => $"{Format(r.MemPerConnBytes, "N0")} bytes working set and {Format(r.GetExtra("gcHeapPerConnBytes"), "N0")} bytes GC heap per idle connection",
        "connect" => $"{Format(r.ConnectsPerSec, "N0")} connections/s, {Format(r.GetExtra("serverCpuMsPerConnect"), "N3")} server CPU ms each",
        _ => string.Empty,
    };

    /// <summary>", connections closed: 4001 x5, broken x1" when the run lost connections, else empty.</summary>
    private static string LostReasons(ResultRow r)
    {
        if (r.Extra is null)
        {
            return string.Empty;
        }

        string[] reasons = r.Extra.Where(p => p.Key.StartsWith("lost:", StringComparison.Ordinal))
            .OrderBy(p => p.Key, StringComparer.Ordinal)
            .Select(p => $"{p.Key["lost:".Length..]} x{p.Value:0}")
            .ToArray();
        return reasons.Length == 0 ? string.Empty : ", connections closed: " + string.Join(", ", reasons);
    }

    private static string Format(double? value, string format)
        => value is double v && double.IsFinite(v) ? v.ToString(format, CultureInfo.InvariantCulture) : "-";

    public static string Ratio(double? a, double? b)
        => a is double x && b is double y && double.IsFinite(x) && double.IsFinite(y) && y != 0 ? (x / y).ToString("0.00", CultureInfo.InvariantCulture) + "x" : "-";
}
