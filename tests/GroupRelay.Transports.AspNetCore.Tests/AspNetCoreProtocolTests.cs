using GroupRelay.Specification.Tests;

namespace GroupRelay.Transports.AspNetCore.Tests;

/// <summary>The protocol specification suite on the ASP.NET Core transport.</summary>
public sealed class AspNetCoreProtocolTests : RelayProtocolSpecification
{
    protected override RelayServerHarness CreateHarness() => new KestrelRelayHarness();
}
