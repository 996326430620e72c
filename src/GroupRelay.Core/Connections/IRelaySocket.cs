using System;
using System.Threading;
using System.Threading.Tasks;

namespace GroupRelay.Transports;

/// <summary>
/// What a transport gives the core for one open WebSocket. Implemented by the transports
/// (ASP.NET Core, Fleck); host code does not implement it.
/// </summary>
/// <remarks>
/// The core calls <see cref="SendAsync"/> and <see cref="CloseAsync"/> from one writer loop per connection,
/// never concurrently, so an implementation need not guard against concurrent sends. <see cref="Abort"/> may be
/// called from any thread at any time.
/// </remarks>
public interface IRelaySocket
{
    /// <summary>Sends one complete text frame holding <paramref name="utf8Text"/>.</summary>
    /// <param name="utf8Text">The frame payload; valid only until the returned task completes.</param>
    /// <param name="cancellationToken">Cancelled when the connection is being torn down.</param>
    ValueTask SendAsync(ReadOnlyMemory<byte> utf8Text, CancellationToken cancellationToken = default);

    /// <summary>Sends a close frame (starting or completing the close handshake).</summary>
    /// <param name="closeCode">A code of <see cref="RelayCloseCodes"/>.</param>
    /// <param name="reason">A short reason, at most 123 bytes of UTF-8.</param>
    /// <param name="cancellationToken">Cancelled when the close takes longer than <see cref="GroupRelayOptions.CloseTimeout"/>.</param>
    ValueTask CloseAsync(int closeCode, string reason, CancellationToken cancellationToken = default);

    /// <summary>Tears the connection down at once, without a close handshake.</summary>
    void Abort();
}
