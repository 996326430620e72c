using System;
using System.Collections.Generic;

namespace GroupRelay.Sample;

/// <summary>A seed file or seed data is invalid. <see cref="Exception.Message"/> names every problem found.</summary>
public sealed class SampleSeedException : Exception
{
    /// <summary>Creates the exception from the problems found.</summary>
    /// <param name="source">What was read, for example the seed file's path; null for data built in code.</param>
    /// <param name="problems">One sentence per problem.</param>
    /// <param name="innerException">The JSON or I/O error behind the problem, if any.</param>
    public SampleSeedException(string? source, IReadOnlyList<string> problems, Exception? innerException = null)
        : base(BuildMessage(source, problems), innerException)
    {
        SeedSource = source;
        Problems = problems;
    }

    /// <summary>Creates the exception with one problem.</summary>
    /// <param name="message">The problem.</param>
    public SampleSeedException(string message)
        : this(null, [message])
    {
    }

    /// <summary>Creates the exception with one problem and its cause.</summary>
    /// <param name="message">The problem.</param>
    /// <param name="innerException">The cause.</param>
    public SampleSeedException(string message, Exception innerException)
        : this(null, [message], innerException)
    {
    }

    /// <summary>Creates the exception with a generic message (for serializers and tools).</summary>
    public SampleSeedException()
        : this(null, ["the seed is invalid"])
    {
    }

    /// <summary>What was read, for example the seed file's path; null for data built in code.</summary>
    public string? SeedSource { get; }

    /// <summary>The problems found, one sentence each.</summary>
    public IReadOnlyList<string> Problems { get; }

    private static string BuildMessage(string? source, IReadOnlyList<string> problems)
    {
        ArgumentNullException.ThrowIfNull(problems);
        string what = source is null ? "The seed" : $"The seed file '{source}'";
        return problems.Count == 1
            ? $"{what} is invalid: {problems[0]}"
            : $"{what} is invalid ({problems.Count} problems):{Environment.NewLine}  - {string.Join(Environment.NewLine + "  - ", problems)}";
    }
}
