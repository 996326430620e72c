using System;

namespace GroupRelay;

/// <summary>The one exception type GroupRelay throws for its own failures (configuration, lifecycle).</summary>
/// <remarks>Protocol errors are never thrown: they are sent to the client as <c>error</c> frames.</remarks>
public class GroupRelayException : Exception
{
    /// <summary>Creates an exception with a message.</summary>
    /// <param name="message">What went wrong, naming the option or call at fault.</param>
    public GroupRelayException(string message) : base(message) { }

    /// <summary>Creates an exception with a message and the exception that caused it.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="innerException">The cause.</param>
    public GroupRelayException(string message, Exception innerException) : base(message, innerException) { }
}
