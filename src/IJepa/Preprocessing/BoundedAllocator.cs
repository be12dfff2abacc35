using System.Buffers;
using System.Runtime.CompilerServices;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Memory;

namespace IJepa.Preprocessing;

/// <summary>
/// An ImageSharp allocator for one decode that refuses to hold more than a budget at once. The budget
/// follows from the size the header declared, so a small file whose inner tags ask for a huge buffer
/// (a 1 KB TIFF once asked for 968 MB; found by fuzzing) is refused instead of allocated.
/// </summary>
internal sealed class BoundedAllocator : MemoryAllocator
{
    private readonly MemoryAllocator _inner;
    private readonly long _budget;
    private long _outstanding;

    public BoundedAllocator(MemoryAllocator inner, long budget)
    {
        _inner = inner;
        _budget = budget;
    }

    /// <summary>What a decode of a width × height image may hold: 16 bytes a pixel (64-bit RGBA twice over) plus 64 MiB.</summary>
    public static long BudgetFor(int width, int height) => (64L << 20) + ((long)width * height * 16);

    protected override int GetBufferCapacityInBytes() => 64 << 20;

    public override IMemoryOwner<T> Allocate<T>(int length, AllocationOptions options = AllocationOptions.None)
    {
        long bytes = (long)length * Unsafe.SizeOf<T>();
        if (Interlocked.Add(ref _outstanding, bytes) > _budget)
        {
            Interlocked.Add(ref _outstanding, -bytes);
            throw new InvalidImageContentException(
                $"decoding asks for {bytes:N0} more bytes than an image of its declared size can need (budget {_budget:N0} bytes)");
        }
        return new Owner<T>(_inner.Allocate<T>(length, options), this, bytes);
    }

    public override void ReleaseRetainedResources() => _inner.ReleaseRetainedResources();

    private sealed class Owner<T>(IMemoryOwner<T> inner, BoundedAllocator allocator, long bytes) : IMemoryOwner<T>
    {
        private int _disposed;

        public Memory<T> Memory => inner.Memory;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                inner.Dispose();
                Interlocked.Add(ref allocator._outstanding, -bytes);
            }
        }
    }
}
