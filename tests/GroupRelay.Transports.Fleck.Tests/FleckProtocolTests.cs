using GroupRelay.Specification.Tests;

namespace GroupRelay.Transports.Fleck.Tests;

/// <summary>The protocol specification suite on the Fleck transport.</summary>
public sealed class FleckProtocolTests : RelayProtocolSpecification
{
    protected override RelayServerHarness CreateHarness() => new FleckRelayHarness();
}
