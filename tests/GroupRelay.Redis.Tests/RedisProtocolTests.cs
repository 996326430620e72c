using GroupRelay.Specification.Tests;

namespace GroupRelay.Redis.Tests;

/// <summary>The protocol specification suite on two relay nodes sharing one Redis; clients alternate between the nodes.</summary>
public sealed class RedisProtocolTests : RelayProtocolSpecification
{
    protected override RelayServerHarness CreateHarness() => new TwoNodeRedisHarness();
}
