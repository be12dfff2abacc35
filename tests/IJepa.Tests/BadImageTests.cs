using System.Buffers.Binary;
using System.IO.Compression;
using IJepa.Benchmarks;
using IJepa.Preprocessing;

namespace IJepa.Tests;

/// <summary>Bad images: a typed exception naming the source, raised before any large allocation; batches go on without them.</summary>
[Collection(nameof(ProcessWide))] // alone in the process, so that the resident-memory peaks measured here are these tests' own
public class BadImageTests
{
    /// <summary>
    /// Runs <paramref name="refusal"/> and checks what it cost: managed bytes allocated on this thread, and the growth of
    /// the process's peak resident set, which also counts native decoders (libjpeg, libwebp) that managed counters miss.
    /// </summary>
    private static ImageDecodeException Bounded(Func<ImageDecodeException> refusal)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        ProcessMemory.ResetPeak();
        long rss = ProcessMemory.Resident();
        long managed = GC.GetAllocatedBytesForCurrentThread();
        ImageDecodeException error = refusal();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - managed, grown = ProcessMemory.Peak() - rss;
        Assert.True(allocated < 16 << 20, $"allocated {allocated:N0} managed bytes");
        Assert.True(grown < 32 << 20, $"peak resident memory grew {grown:N0} bytes");
        return error;
    }

    private static readonly ImagePreprocessor Preprocessor = new(new PreprocessingOptions { Height = 37, Width = 53 });

    private static string Input(string name) => Path.Combine(AppContext.BaseDirectory, "images", "input", name);

    private static ImageDecodeException Fails(byte[] bytes, string name)
    {
        var error = Assert.Throws<ImageDecodeException>(() => Preprocessor.Preprocess(ImageInput.FromBytes(bytes, name)));
        Assert.Equal(name, error.Source);
        Assert.StartsWith(name + ": ", error.Message, StringComparison.Ordinal);
        return error;
    }

    /// <summary>A valid PNG header (signature + IHDR with a correct CRC) claiming the given size, and no pixel data.</summary>
    internal static byte[] PngHeader(int width, int height)
    {
        var stream = new MemoryStream();
        stream.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        byte[] ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = 8;  // bit depth
        ihdr[9] = 2;  // RGB
        WriteChunk(stream, "IHDR", ihdr);
        WriteChunk(stream, "IDAT", ZlibOf(new byte[64]));
        WriteChunk(stream, "IEND", []);
        return stream.ToArray();
    }

    private static byte[] ZlibOf(byte[] data)
    {
        var output = new MemoryStream();
        using (var z = new ZLibStream(output, CompressionLevel.Fastest, leaveOpen: true))
        {
            z.Write(data);
        }
        return output.ToArray();
    }

    private static void WriteChunk(Stream stream, string type, byte[] data)
    {
        byte[] length = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(length, data.Length);
        stream.Write(length);
        byte[] typed = [.. System.Text.Encoding.ASCII.GetBytes(type), .. data];
        stream.Write(typed);
        byte[] crc = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(crc, System.IO.Hashing.Crc32.HashToUInt32(typed));
        stream.Write(crc);
    }

    [Fact]
    public void Zero_bytes() => Assert.Contains("empty", Fails([], "empty.png").Message, StringComparison.Ordinal);

    [Fact]
    public void Not_an_image() => Fails(TestData.Utf8("%PDF-1.7 this is a document, not a picture"), "doc.pdf");

    [Fact]
    public void Svg_is_an_unsupported_format() => Fails(TestData.Utf8("<svg xmlns='http://www.w3.org/2000/svg' width='10' height='10'/>"), "vector.svg");

    [Theory]
    [InlineData("photo_flower.png")]
    [InlineData("photo_ladybird.jpg")]
    [InlineData("bmp_33x17.bmp")]
    [InlineData("animated_32x24.gif")]
    public void Truncated_files(string name)
    {
        // Pillow refuses each of these cuts ("image file is truncated", or no image at all), and so must we.
        byte[] bytes = File.ReadAllBytes(Input(name));
        foreach (int keep in new[] { 8, 30, bytes.Length / 2 })
        {
            Fails(bytes[..keep], $"{name}[..{keep}]");
        }
    }

    [Fact]
    public void A_truncated_jpeg_is_an_error_as_in_pillow()
    {
        byte[] bytes = File.ReadAllBytes(Input("photo_ladybird.jpg"));
        foreach (int keep in new[] { bytes.Length / 2, bytes.Length - 100 })
        {
            Assert.Contains("truncated", Fails(bytes[..keep], $"cut{keep}.jpg").Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void A_jpeg_claiming_a_huge_size_is_refused_before_decoding()
    {
        byte[] bytes = File.ReadAllBytes(Input("photo_ladybird.jpg"));
        int sof = FindMarker(bytes, 0xC0, 0xC2);
        bytes[sof + 5] = 0xEA; // height 60000
        bytes[sof + 6] = 0x60;
        bytes[sof + 7] = 0xEA; // width 60000
        bytes[sof + 8] = 0x60;
        var error = Bounded(() => Fails(bytes, "huge.jpg"));
        Assert.Contains("60000x60000", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_webp_claiming_a_huge_size_is_refused_before_decoding()
    {
        // A lossless (VP8L) WebP header for 16383 x 16383 pixels followed by a little data.
        uint size = 16382u | (16382u << 14);
        byte[] payload = [0x2F, (byte)size, (byte)(size >> 8), (byte)(size >> 16), (byte)(size >> 24), .. new byte[59]];
        byte[] bytes = [.. "RIFF"u8, .. BitConverter.GetBytes(4 + 8 + payload.Length), .. "WEBPVP8L"u8, .. BitConverter.GetBytes(payload.Length), .. payload];
        var error = Bounded(() => Fails(bytes, "huge.webp"));
        Assert.Contains("16383x16383", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_jpeg_with_a_broken_frame_header_is_an_error()
    {
        byte[] bytes = File.ReadAllBytes(Input("photo_ladybird.jpg"));
        int sof = FindMarker(bytes, 0xC0, 0xC2);
        bytes[sof + 9] = 7; // seven components: no such JPEG
        Fails(bytes, "components.jpg");
    }

    private static int FindMarker(byte[] bytes, params byte[] markers)
    {
        for (int i = 2; i + 1 < bytes.Length; i++)
        {
            if (bytes[i] == 0xFF && markers.Contains(bytes[i + 1]))
            {
                return i;
            }
        }
        throw new InvalidOperationException("no frame header");
    }

    [Theory]
    [InlineData(SixLabors.ImageSharp.Formats.Png.PngColorType.Rgb, SixLabors.ImageSharp.Formats.Png.PngBitDepth.Bit8)]
    [InlineData(SixLabors.ImageSharp.Formats.Png.PngColorType.RgbWithAlpha, SixLabors.ImageSharp.Formats.Png.PngBitDepth.Bit16)]
    [InlineData(SixLabors.ImageSharp.Formats.Png.PngColorType.Grayscale, SixLabors.ImageSharp.Formats.Png.PngBitDepth.Bit8)]
    public async Task Interlaced_pngs_decode_like_plain_ones_and_truncated_ones_are_refused_without_hanging(
        SixLabors.ImageSharp.Formats.Png.PngColorType colour, SixLabors.ImageSharp.Formats.Png.PngBitDepth depth)
    {
        using var image = SixLabors.ImageSharp.Image.Load(Input("photo_flower.png"));
        byte[] Encode(SixLabors.ImageSharp.Formats.Png.PngInterlaceMode mode)
        {
            using var stream = new MemoryStream();
            image.Save(stream, new SixLabors.ImageSharp.Formats.Png.PngEncoder { ColorType = colour, BitDepth = depth, InterlaceMethod = mode });
            return stream.ToArray();
        }
        byte[] plain = Encode(SixLabors.ImageSharp.Formats.Png.PngInterlaceMode.None);
        byte[] interlaced = Encode(SixLabors.ImageSharp.Formats.Png.PngInterlaceMode.Adam7);
        Assert.Equal(1, interlaced[28]); // the header says Adam7
        Assert.Equal(Preprocessor.Preprocess(ImageInput.FromBytes(plain, "plain.png")), Preprocessor.Preprocess(ImageInput.FromBytes(interlaced, "interlaced.png")));

        // ImageSharp 2.1 alone loops forever on these (a fuzz finding); the guard refuses them at once.
        foreach (int keep in new[] { interlaced.Length / 2, interlaced.Length - 40 })
        {
            // WaitAsync throws TimeoutException if decoding hangs.
            await Task.Run(() => Fails(interlaced[..keep], $"cut{keep}.png")).WaitAsync(TimeSpan.FromSeconds(10));
        }
    }

    [Fact]
    public void A_bmp_whose_pixel_offset_lies_beyond_the_file_is_refused_before_any_allocation()
    {
        byte[] bytes = File.ReadAllBytes(Input("bmp_33x17.bmp"));
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(10), 0x57FFFF7F); // ImageSharp alone allocates ~1.1 GB for this
        Assert.Contains("pixel data would start", Bounded(() => Fails(bytes, "offset.bmp")).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Corrupt_png_header()
    {
        byte[] bytes = File.ReadAllBytes(Input("photo_flower.png"));
        bytes[16] ^= 0xFF; // inside IHDR: width, and the CRC no longer matches
        Fails(bytes, "corrupt.png");
    }

    [Fact]
    public void A_decompression_bomb_is_refused_before_decoding()
    {
        byte[] bomb = PngHeader(100_000, 100_000);
        var error = Bounded(() => Fails(bomb, "bomb.png"));
        Assert.Contains("100000x100000", error.Message, StringComparison.Ordinal);
        Assert.Contains("decompression bomb", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Trimming_the_caches_leaves_preprocessing_working_and_unchanged()
    {
        float[] before = Preprocessor.Preprocess(ImageInput.FromFile(Input("photo_ladybird.jpg")));
        ImagePreprocessor.TrimCaches();
        Assert.Equal(before, Preprocessor.Preprocess(ImageInput.FromFile(Input("photo_ladybird.jpg"))));
    }

    [Fact]
    public void The_pixel_limit_is_configurable()
    {
        var small = new ImagePreprocessor(new PreprocessingOptions { Height = 37, Width = 53, MaxPixels = 1000 });
        Assert.Throws<ImageDecodeException>(() => small.Preprocess(ImageInput.FromFile(Input("photo_flower.png"))));
        // Within the limit the image is preprocessed exactly as without one.
        Assert.Equal(Preprocessor.Preprocess(ImageInput.FromFile(Input("small_17x23.png"))), small.Preprocess(ImageInput.FromFile(Input("small_17x23.png"))));
    }

    [Fact]
    public void A_missing_file_names_the_path()
    {
        var error = Assert.Throws<ImageDecodeException>(() => Preprocessor.Preprocess(ImageInput.FromFile("/nonexistent/cat.jpg")));
        Assert.Equal("/nonexistent/cat.jpg", error.Source);
    }

    [Fact]
    public void A_batch_reports_bad_images_by_name_and_keeps_the_rest()
    {
        ImageInput[] inputs =
        [
            ImageInput.FromFile(Input("small_17x23.png")),
            ImageInput.FromBytes(Array.Empty<byte>(), "empty.png"),
            ImageInput.FromFile(Input("photo_flower.png")),
            ImageInput.FromBytes(PngHeader(100_000, 100_000), "bomb.png"),
        ];
        using PreprocessedBatch batch = Preprocessor.PreprocessBatch(inputs, skipFailures: true);
        Assert.Equal(["small_17x23.png", "photo_flower.png"], batch.Inputs.Select(i => Path.GetFileName(i.Name)));
        Assert.Equal(["empty.png", "bomb.png"], batch.Failures.Select(f => f.Input.Name));
        Assert.Equal([2L, 3, 37, 53], batch.Pixels!.shape);
        float[] alone = Preprocessor.Preprocess(inputs[2]);
        using Tensor second = batch.Pixels[1].flatten();
        Assert.Equal(alone, second.data<float>().ToArray());

        var error = Assert.Throws<ImageDecodeException>(() => Preprocessor.PreprocessBatch(inputs).Dispose());
        Assert.Equal("empty.png", error.Source);
    }

    [Fact]
    public void Streams_and_imagesharp_images_give_the_same_values_as_files()
    {
        string path = Input("exif_orientation_6.jpg");
        float[] fromFile = Preprocessor.Preprocess(ImageInput.FromFile(path));
        using (var stream = File.OpenRead(path))
        {
            Assert.Equal(fromFile, Preprocessor.Preprocess(ImageInput.FromStream(stream, "stream")));
        }
        using (var unseekable = new UnseekableStream(File.ReadAllBytes(path)))
        {
            Assert.Equal(fromFile, Preprocessor.Preprocess(ImageInput.FromStream(unseekable)));
        }
        // An ImageSharp image was decoded by ImageSharp, so it matches the file read with ImageSharp's JPEG decoder.
        var imageSharp = new ImagePreprocessor(Preprocessor.Options with { Decoding = ImageDecoding.ImageSharp });
        using var image = SixLabors.ImageSharp.Image.Load(path);
        Assert.Equal(imageSharp.Preprocess(ImageInput.FromFile(path)), Preprocessor.Preprocess(ImageInput.FromImage(image)));
        Assert.NotEqual(fromFile, imageSharp.Preprocess(ImageInput.FromFile(path)));
    }

    private sealed class UnseekableStream(byte[] data) : MemoryStream(data)
    {
        public override bool CanSeek => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => base.Position; set => throw new NotSupportedException(); }
    }
}
