namespace GroupRelay.Sample;

/// <summary>A mutual friendship between two users of the sample database: each is a contact of the other.</summary>
/// <param name="User">One user.</param>
/// <param name="Friend">The other user.</param>
public readonly record struct SampleFriendship(string User, string Friend);
