using System;

namespace GroupRelay.Core.Tests.Infrastructure;

/// <summary>The one bound every await in these tests has: a hang fails fast instead of stalling the run.</summary>
internal static class TestTimeouts
{
    public static readonly TimeSpan Default = TimeSpan.FromSeconds(10);
}
