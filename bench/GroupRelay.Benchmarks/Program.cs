using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Running;
using GroupRelay.Benchmarks.Infrastructure;

namespace GroupRelay.Benchmarks;

/// <summary>
/// Entry point. Every BenchmarkDotNet command-line option works: <c>--filter '*Fanout*'</c>, <c>--job short</c> for a
/// smoke run, <c>--inProcess</c>, <c>--list flat</c>. Without <c>--job</c> the full default job runs (for reports).
/// </summary>
public static class Program
{
    /// <summary>Runs the benchmarks the arguments select.</summary>
    /// <param name="args">BenchmarkDotNet arguments.</param>
    public static void Main(string[] args)
    {
        IConfig config = DefaultConfig.Instance
            .AddDiagnoser(MemoryDiagnoser.Default, ExceptionDiagnoser.Default)
            .AddColumn(PerDeliveryColumn.Time, PerDeliveryColumn.Allocation);
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, config);
    }
}
