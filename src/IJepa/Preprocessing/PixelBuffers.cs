using System.Buffers;

namespace IJepa.Preprocessing;

/// <summary>
/// The pool pixel buffers come from. Bounded on purpose: the shared pool would keep a buffer of every
/// size it has seen, so one huge image would stay resident for good (the fuzzer saw a worker grow past
/// 1 GB that way). Buffers over 32 MiB are allocated and dropped; at most a few per size are kept.
/// </summary>
internal static class PixelBuffers
{
    public static ArrayPool<byte> Pool { get; } = ArrayPool<byte>.Create(32 << 20, Math.Max(4, 2 * Environment.ProcessorCount));
}
