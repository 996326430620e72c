using System;
using System.Threading;
using System.Threading.Tasks;

namespace GroupRelay.Internal;

/// <summary>
/// Serialises the state changes that concern one user (connect, disconnect, membership changes, status), so the
/// online list, the group index and the events they cause never interleave for that user.
/// </summary>
/// <remarks>
/// A fixed array of async locks striped by the user id's hash: bounded memory, no per-user entry to clean up,
/// and an operation holds only one stripe, so there is no lock ordering to get wrong.
/// </remarks>
internal sealed class UserGate
{
    private readonly SemaphoreSlim[] _stripes;

    public UserGate(int stripes = 256)
    {
        _stripes = new SemaphoreSlim[stripes];
        for (int i = 0; i < stripes; i++)
        {
            _stripes[i] = new SemaphoreSlim(1, 1);
        }
    }

    public async ValueTask<Releaser> EnterAsync(string userId, CancellationToken cancellationToken = default)
    {
        SemaphoreSlim stripe = _stripes[(int)((uint)StringComparer.Ordinal.GetHashCode(userId) % (uint)_stripes.Length)];
        await stripe.WaitAsync(cancellationToken).ConfigureAwait(false);
        return new Releaser(stripe);
    }

    internal readonly struct Releaser : IDisposable
    {
        private readonly SemaphoreSlim _stripe;

        public Releaser(SemaphoreSlim stripe) => _stripe = stripe;

        public void Dispose() => _stripe.Release();
    }
}
