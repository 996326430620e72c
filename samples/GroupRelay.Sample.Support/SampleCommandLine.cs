using System;
using System.Collections.Generic;

namespace GroupRelay.Sample;

/// <summary>
/// The command-line grammar every sample host shares: <c>--name value</c> or <c>--name=value</c> for options that
/// take a value, and <c>-h</c>, <c>--help</c> or <c>-?</c> for the usage. Each host lists its own options.
/// </summary>
/// <example>
/// <code>
/// SampleCommandLine line = SampleCommandLine.Parse(args, "--db", "--seed");
/// string database = line.Get("--db") ?? "grouprelay-sample.db";
/// </code>
/// </example>
public sealed class SampleCommandLine
{
    private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);

    private SampleCommandLine()
    {
    }

    /// <summary>True when <c>-h</c>, <c>--help</c> or <c>-?</c> was given.</summary>
    public bool ShowHelp { get; private set; }

    /// <summary>
    /// Parses <paramref name="args"/>. Every argument must be a help flag or one of <paramref name="valueOptions"/>
    /// followed by its value; when an option is repeated, the last value wins.
    /// </summary>
    /// <param name="args">The arguments, as the program got them.</param>
    /// <param name="valueOptions">The options that take a value, with their dashes, for example <c>--db</c>.</param>
    /// <returns>The parsed command line.</returns>
    /// <exception cref="ArgumentException">
    /// An argument is unknown, or an option lacks its value; the message names it (see <see cref="ErrorMessage"/>).
    /// </exception>
    public static SampleCommandLine Parse(IReadOnlyList<string> args, params string[] valueOptions)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(valueOptions);
        var known = new HashSet<string>(valueOptions, StringComparer.Ordinal);
        var line = new SampleCommandLine();
        for (int i = 0; i < args.Count; i++)
        {
            string arg = args[i];
            string name = arg;
            string? value = null;
            int equals = arg.IndexOf('=', StringComparison.Ordinal);
            if (arg.StartsWith("--", StringComparison.Ordinal) && equals > 0)
            {
                name = arg[..equals];
                value = arg[(equals + 1)..];
            }

            if (name is "-h" or "--help" or "-?")
            {
                line.ShowHelp = true;
            }
            else if (known.Contains(name))
            {
                line._values[name] = value ?? Next(args, ref i, name);
            }
            else
            {
                throw new ArgumentException($"unknown argument '{arg}' (see --help)", nameof(args));
            }
        }

        return line;
    }

    /// <summary>The value given for <paramref name="name"/>, or null when the option was not given.</summary>
    /// <param name="name">The option, with its dashes, for example <c>--db</c>.</param>
    /// <returns>The value, or null.</returns>
    public string? Get(string name) => _values.TryGetValue(name, out string? value) ? value : null;

    /// <summary>The message of a parse error without the parameter-name suffix, for an <c>error: ...</c> line.</summary>
    /// <param name="exception">The exception <see cref="Parse"/> threw.</param>
    /// <returns>The message.</returns>
    public static string ErrorMessage(ArgumentException exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        return exception.Message.Replace(" (Parameter 'args')", string.Empty, StringComparison.Ordinal);
    }

    private static string Next(IReadOnlyList<string> args, ref int i, string name)
    {
        if (i + 1 >= args.Count || string.IsNullOrWhiteSpace(args[i + 1]) || args[i + 1].StartsWith("--", StringComparison.Ordinal))
        {
            throw new ArgumentException($"{name} needs a value (see --help)", nameof(args));
        }

        i++;
        return args[i];
    }
}
