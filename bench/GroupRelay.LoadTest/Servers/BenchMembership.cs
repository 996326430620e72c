using System;
using System.Collections.Generic;
using System.Globalization;

namespace GroupRelay.LoadTest.Servers;

/// <summary>
/// The membership every system under test uses, derived from the user id alone so that GroupRelay's membership
/// source, the SignalR hub and the raw server agree without sharing state:
/// <list type="bullet">
/// <item><c>u{i}</c> (fan-out and latency): member of <c>g{N}</c> for every group size N with i &lt; N.</item>
/// <item><c>i{k}</c> (idle): member of <c>idle{k / 100}</c>.</item>
/// <item><c>c{k}</c> (connect): member of <c>c{k / 10}a</c> and <c>c{k / 100}b</c>.</item>
/// </list>
/// </summary>
internal static class BenchMembership
{
    public static IReadOnlyList<string> GroupsOf(string user, IReadOnlyList<int> groupSizes)
    {
        if (user.Length < 2 || !int.TryParse(user.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out int index))
        {
            return Array.Empty<string>();
        }

        switch (user[0])
        {
            case 'u':
                var groups = new List<string>(groupSizes.Count);
                foreach (int size in groupSizes)
                {
                    if (index < size)
                    {
                        groups.Add(GroupName(size));
                    }
                }

                return groups;
            case 'i':
                return new[] { "idle" + (index / 100).ToString(CultureInfo.InvariantCulture) };
            case 'c':
                return new[] { "c" + (index / 10).ToString(CultureInfo.InvariantCulture) + "a", "c" + (index / 100).ToString(CultureInfo.InvariantCulture) + "b" };
            default:
                return Array.Empty<string>();
        }
    }

    public static string GroupName(int size) => "g" + size.ToString(CultureInfo.InvariantCulture);
}
