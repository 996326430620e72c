using System;
using System.Globalization;
using System.Linq;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace GroupRelay.Benchmarks.Infrastructure;

/// <summary>
/// Divides a fan-out benchmark's time or allocation per message by its group size (<c>Members</c>): the figures
/// per delivery. Empty for benchmarks without that parameter.
/// </summary>
internal sealed class PerDeliveryColumn : IColumn
{
    private readonly bool _allocation;

    private PerDeliveryColumn(bool allocation) => _allocation = allocation;

    public static IColumn Time { get; } = new PerDeliveryColumn(allocation: false);

    public static IColumn Allocation { get; } = new PerDeliveryColumn(allocation: true);

    public string Id => _allocation ? "AllocPerDelivery" : "TimePerDelivery";

    public string ColumnName => _allocation ? "Alloc/delivery" : "Time/delivery";

    public bool AlwaysShow => true;

    public ColumnCategory Category => ColumnCategory.Custom;

    public int PriorityInCategory => _allocation ? 1 : 0;

    public bool IsNumeric => true;

    public UnitType UnitType => _allocation ? UnitType.Size : UnitType.Time;

    public string Legend => _allocation ? "Bytes allocated per message divided by Members" : "Mean time per message divided by Members";

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        object? members = benchmarkCase.Parameters.Items.FirstOrDefault(p => p.Name == "Members")?.Value;
        BenchmarkReport? report = summary[benchmarkCase];
        if (members is not int count || count <= 0 || report is null)
        {
            return "-";
        }

        if (_allocation)
        {
            long? bytes = report.GcStats.GetBytesAllocatedPerOperation(benchmarkCase);
            return bytes is long b ? (b / (double)count).ToString("0.##", CultureInfo.InvariantCulture) + " B" : "-";
        }

        if (report.ResultStatistics is null)
        {
            return "-";
        }

        return (report.ResultStatistics.Mean / count).ToString("0.0", CultureInfo.InvariantCulture) + " ns";
    }

    public bool IsAvailable(Summary summary) => true;

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

    public override string ToString() => ColumnName;
}
