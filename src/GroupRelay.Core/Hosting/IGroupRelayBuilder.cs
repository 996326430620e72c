using Microsoft.Extensions.DependencyInjection;

namespace GroupRelay;

/// <summary>
/// Returned by <c>AddGroupRelay()</c> so add-ons (a membership source, a transport, a backplane) can extend the
/// registration fluently.
/// </summary>
public interface IGroupRelayBuilder
{
    /// <summary>The service collection GroupRelay was added to.</summary>
    IServiceCollection Services { get; }
}
