using System.Buffers;

namespace IJepa.Preprocessing;

/// <summary>
/// The pool pixel buffers come from. Bounded on purpose: the shared pool would keep a buffer of every
/// size it has seen, so one huge image would stay resident for good (the fuzzer saw a worker grow past
/// 1 GB that way). Buffers over 32 MiB are allocated and dropped; at most a few per size are kept.
/// </summary>
internal static class PixelBuffers
{
    private static ArrayPool<byte> _pool = NewPool();

    public static ArrayPool<byte> Pool => Volatile.Read(ref _pool);

    /// <summary>Drops every kept buffer; buffers rented before are accepted by the new pool (same bucket sizes).</summary>
    public static void Trim() => Volatile.Write(ref _pool, NewPool());

    private static ArrayPool<byte> NewPool() => ArrayPool<byte>.Create(32 << 20, Math.Max(4, 2 * Environment.ProcessorCount));
}
