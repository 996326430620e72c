using Microsoft.Extensions.DependencyInjection;

namespace GroupRelay.Internal;

internal sealed class GroupRelayBuilder : IGroupRelayBuilder
{
    public GroupRelayBuilder(IServiceCollection services) => Services = services;

    public IServiceCollection Services { get; }
}
