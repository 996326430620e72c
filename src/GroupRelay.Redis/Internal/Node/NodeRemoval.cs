using System.Collections.Generic;

namespace GroupRelay.Internal;

/// <summary>What removing a node's entries from Redis ended.</summary>
/// <param name="Offline">Users now offline everywhere.</param>
/// <param name="Gone">Memberships (group, user) now held by no node.</param>
/// <remarks>Thread-safety: immutable once built.</remarks>
internal sealed record NodeRemoval(IReadOnlyList<string> Offline, IReadOnlyList<(string Group, string User)> Gone);
