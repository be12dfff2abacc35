using System.Buffers;

namespace IJepa.Server;

/// <summary>
/// One image's encoded bytes as received, in a buffer rented from the server's body pool where the server read them
/// itself. A photo's bytes are larger than the runtime's large-object threshold (85 KB): while they were allocated
/// fresh for every request, the server's resident memory climbed for as long as an overload lasted (README,
/// Embedding server); pooled, it levels. The owner (the request
/// until it hands the bytes to a job, then the job) disposes them once they are decoded or no longer wanted.
/// </summary>
internal sealed class ImageBytes : IDisposable
{
    private readonly ArrayPool<byte>? _pool;
    private byte[]? _rented;

    private ImageBytes(byte[] array, int length, ArrayPool<byte>? pool)
    {
        Memory = array.AsMemory(0, length);
        _pool = pool;
        _rented = pool is null ? null : array;
    }

    /// <summary>The bytes; not to be used after <see cref="Dispose"/>.</summary>
    public ReadOnlyMemory<byte> Memory { get; private set; }

    /// <summary>Bytes the server did not read itself (decoded from base64): not pooled.</summary>
    public static ImageBytes Wrap(byte[] bytes) => new(bytes, bytes.Length, pool: null);

    /// <summary>
    /// Reads a whole stream into a buffer from <paramref name="pool"/>. Kestrel enforces the body limit (413) as it is read; the declared
    /// length only sizes the first buffer, capped so that a lying Content-Length rents nothing big.
    /// </summary>
    public static async Task<ImageBytes> ReadAsync(Stream body, long? length, ArrayPool<byte> pool, CancellationToken cancellationToken)
    {
        byte[] buffer = pool.Rent((int)Math.Clamp((length ?? 0) + 1, 4096, 1 << 24));
        int filled = 0;
        try
        {
            while (true)
            {
                if (filled == buffer.Length)
                {
                    byte[] larger = pool.Rent(checked(buffer.Length * 2));
                    buffer.AsSpan(0, filled).CopyTo(larger);
                    pool.Return(buffer);
                    buffer = larger;
                }
                int read = await body.ReadAsync(buffer.AsMemory(filled), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    return new ImageBytes(buffer, filled, pool);
                }
                filled += read;
            }
        }
        catch
        {
            pool.Return(buffer);
            throw;
        }
    }

    /// <summary>Gives a rented buffer back to the pool (once; later calls do nothing).</summary>
    public void Dispose()
    {
        Memory = default;
        if (Interlocked.Exchange(ref _rented, null) is { } array)
        {
            _pool!.Return(array);
        }
    }
}
