using System;
using System.Security.Cryptography;

namespace GroupRelay.Internal;

/// <summary>
/// New epochs of group streams, made as the in-process stream owner makes them (6 random bytes, hex): a node passes
/// one to every script that may have to start a stream, and Redis keeps it only when the stream has no state.
/// </summary>
/// <remarks>Thread-safety: stateless (<see cref="RandomNumberGenerator"/> is thread-safe).</remarks>
internal static class StreamEpochs
{
    public static string NewCandidate() => Convert.ToHexString(RandomNumberGenerator.GetBytes(6));
}
