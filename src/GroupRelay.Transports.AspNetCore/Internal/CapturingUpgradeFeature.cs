using System.IO;
using System.Threading.Tasks;
using Microsoft.AspNetCore.Http.Features;

namespace GroupRelay.Transports.AspNetCore.Internal;

/// <summary>
/// Kestrel's HTTP/1.1 upgrade, keeping the upgraded stream that the WebSocket runs on: after a protocol violation the
/// endpoint reads and discards from it what the client still sends, so that closing the TCP connection does not reset
/// it (and the client's unread 1002 close frame with it).
/// </summary>
internal sealed class CapturingUpgradeFeature : IHttpUpgradeFeature
{
    private readonly IHttpUpgradeFeature _inner;

    public CapturingUpgradeFeature(IHttpUpgradeFeature inner) => _inner = inner;

    public bool IsUpgradableRequest => _inner.IsUpgradableRequest;

    /// <summary>The upgraded stream, once <see cref="UpgradeAsync"/> returned it; the WebSocket is built on it.</summary>
    public UpgradedStream? Stream { get; private set; }

    public async Task<Stream> UpgradeAsync()
    {
        Stream = new UpgradedStream(await _inner.UpgradeAsync().ConfigureAwait(false));
        return Stream;
    }
}
