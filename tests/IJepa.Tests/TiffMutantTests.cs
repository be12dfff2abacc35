using System.Buffers;
using System.IO.Compression;
using System.Text.Json;
using IJepa.Preprocessing;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Memory;

namespace IJepa.Tests;

/// <summary>
/// Mutation-testing checks for the TIFF path: small striped TIFFs crafted byte by byte by
/// tests/reference/tiff/generate_tiff.py (byte orders, RowsPerStrip values, strips out of order, repeated and past
/// the end, StripByteCounts missing/zero/short, BitsPerSample counts, ExtraSamples, SampleFormat, header damage, and
/// LZW/Deflate/PackBits with broken data), each given Pillow 9.4's verdict and RGB pixels; the exact refusal
/// messages of <see cref="PillowTiffRaw"/>; and <see cref="BoundedAllocator"/>'s budget arithmetic, refusal,
/// and release of what its owners hold.
/// </summary>
public class TiffMutantTests
{
    private static string Folder => Path.Combine(AppContext.BaseDirectory, "tiff");

    private static readonly Lazy<Dictionary<string, JsonElement>> Verdicts = new(() => PillowCorpus.Load(Folder));

    // Files marked known_difference are where this library does not match Pillow yet (the generator says why).
    public static TheoryData<string> Cases() =>
        [.. Verdicts.Value.Where(c => !c.Value.TryGetProperty("known_difference", out _)).Select(c => c.Key).Order(StringComparer.Ordinal)];

    [Theory]
    [MemberData(nameof(Cases))]
    public void Each_crafted_tiff_gets_pillows_verdict_and_pixels(string file)
    {
        JsonElement verdict = Verdicts.Value[file];
        string path = Path.Combine(Folder, file);
        PillowCorpus.AssertVerdict(verdict, ImageInput.FromFile(path), path);
        // The same bytes not from a path: Pillow then never memory-maps (see ImageLoader.Decode).
        PillowCorpus.AssertVerdict(verdict, ImageInput.FromBytes(File.ReadAllBytes(path), path), path);
    }

    [Theory]
    [InlineData("l-rps0.tif", "tile cannot extend outside image (TIFF RowsPerStrip is 0)")]
    [InlineData("l-one-strip-at-end.tif", "image file is truncated: the TIFF strip at offset 134 has 4 of its 15 bytes")]
    [InlineData("rgbx-one-strip-at-end.tif", "image file is truncated: the TIFF strip at offset 198 has 4 of its 60 bytes")]
    public void From_bytes_a_lone_strip_is_decoded_not_mapped(string file, string problem)
    {
        // From a path these are memory-mapped: the first is then read whole (Pillow accepts it), the others are
        // "buffer is not large enough" (Raw_reader_refusals_name_the_problem).
        string path = Path.Combine(Folder, file);
        var refusal = Assert.Throws<ImageDecodeException>(() => ImageInput.FromBytes(File.ReadAllBytes(path), file).Decode(1L << 28).Release());
        Assert.Equal(problem, refusal.Problem);
    }

    // Messages the raw reader words itself; the numbers follow from the 5 × 3 layout the generator writes.
    [Theory]
    [InlineData("l-one-strip-at-end.tif", "buffer is not large enough: the TIFF's pixels need 15 bytes from offset 134")]
    [InlineData("rgbx-one-strip-at-end.tif", "buffer is not large enough: the TIFF's pixels need 60 bytes from offset 198")]
    [InlineData("rgba-one-strip-at-end.tif", "buffer is not large enough: the TIFF's pixels need 60 bytes from offset 198")]
    [InlineData("li-one-strip-at-end.tif", "image file is truncated: the TIFF strip at offset 134 has 4 of its 15 bytes")]
    [InlineData("rgb-one-strip-at-end.tif", "image file is truncated: the TIFF strip at offset 170 has 4 of its 45 bytes")]
    [InlineData("l-one-strip-past-end.tif", "image file is truncated: the TIFF strip at offset 10008 has 0 of its 15 bytes")]
    [InlineData("rgba-one-strip-past-end.tif", "image file is truncated: the TIFF strip at offset 10008 has 0 of its 60 bytes")]
    [InlineData("l-offset0-short.tif", "buffer is not large enough: the TIFF's pixels need 400 bytes from offset 0")]
    [InlineData("l-one-strip-at-eof.tif", "buffer is not large enough: the TIFF's pixels need 15 bytes from offset 138")]
    [InlineData("l-strip-past-end.tif", "image file is truncated: the TIFF strip at offset 10008 has 0 of its 5 bytes")]
    [InlineData("li-strip-past-end.tif", "image file is truncated: the TIFF strip at offset 10008 has 0 of its 5 bytes")]
    public void Raw_reader_refusals_name_the_problem(string file, string problem)
    {
        string path = Path.Combine(Folder, file);
        var refusal = Assert.Throws<ImageDecodeException>(() => ImageInput.FromFile(path).Decode(1L << 28).Release());
        Assert.Equal(problem, refusal.Problem);
    }

    [Fact]
    public void The_raw_reader_checks_the_declared_size_against_the_pixel_limit()
    {
        string path = Path.Combine(Folder, "l-rps1.tif");
        Assert.Throws<ImageDecodeException>(() => ImageInput.FromFile(path).Decode(14).Release());
        ImageInput.FromFile(path).Decode(15).Release();
    }

    [Fact]
    public void Budget_is_16_bytes_a_pixel_plus_64_MiB()
    {
        Assert.Equal((64L << 20) + (3 * 5 * 16), BoundedAllocator.BudgetFor(3, 5));
        Assert.Equal((64L << 20) + (70_000L * 70_000 * 16), BoundedAllocator.BudgetFor(70_000, 70_000));
    }

    [Fact]
    public void Allocation_up_to_the_budget_is_allowed_and_one_byte_more_refused()
    {
        var inner = new RecordingAllocator();
        var bounded = new BoundedAllocator(inner, 40);
        IMemoryOwner<int> owner = bounded.Allocate<int>(10);
        Assert.Equal(10, owner.Memory.Length);
        var refusal = Assert.Throws<InvalidImageContentException>(() => bounded.Allocate<byte>(1));
        Assert.Equal("decoding asks for 1 more bytes than an image of its declared size can need (budget 40 bytes)", refusal.Message);
        Assert.Equal(1, inner.Allocations);
        owner.Dispose();
    }

    [Fact]
    public void Allocation_counts_bytes_not_elements()
    {
        var bounded = new BoundedAllocator(new RecordingAllocator(), 39);
        var refusal = Assert.Throws<InvalidImageContentException>(() => bounded.Allocate<int>(10));
        Assert.Equal("decoding asks for 40 more bytes than an image of its declared size can need (budget 39 bytes)", refusal.Message);
    }

    [Fact]
    public void A_refused_allocation_holds_nothing()
    {
        var bounded = new BoundedAllocator(new RecordingAllocator(), 40);
        Assert.Throws<InvalidImageContentException>(() => bounded.Allocate<byte>(50));
        bounded.Allocate<byte>(40).Dispose();
    }

    [Fact]
    public void Disposing_an_owner_releases_its_bytes_once()
    {
        var inner = new RecordingAllocator();
        var bounded = new BoundedAllocator(inner, 40);
        IMemoryOwner<byte> first = bounded.Allocate<byte>(40);
        first.Dispose();
        Assert.Equal(1, inner.Disposals);
        IMemoryOwner<byte> second = bounded.Allocate<byte>(40);
        first.Dispose();
        Assert.Equal(1, inner.Disposals);
        Assert.Throws<InvalidImageContentException>(() => bounded.Allocate<byte>(1));
        second.Dispose();
        Assert.Equal(2, inner.Disposals);
        bounded.Allocate<byte>(40).Dispose();
    }

    [Fact]
    public void Releasing_retained_resources_reaches_the_inner_allocator()
    {
        var inner = new RecordingAllocator();
        new BoundedAllocator(inner, 40).ReleaseRetainedResources();
        Assert.Equal(1, inner.Releases);
    }

    private sealed class RecordingAllocator : MemoryAllocator
    {
        public int Allocations, Disposals, Releases;

        protected override int GetBufferCapacityInBytes() => 1 << 20;

        public override IMemoryOwner<T> Allocate<T>(int length, AllocationOptions options = AllocationOptions.None)
        {
            Allocations++;
            return new Owner<T>(new T[length], this);
        }

        public override void ReleaseRetainedResources() => Releases++;

        private sealed class Owner<T>(T[] array, RecordingAllocator allocator) : IMemoryOwner<T>
        {
            public Memory<T> Memory => array;

            public void Dispose() => allocator.Disposals++;
        }
    }
}
