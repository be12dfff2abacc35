using System.Text.Json;
using IJepa.Preprocessing;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;

namespace IJepa.Tests;

/// <summary>
/// Kills the mutants that Stryker's run 4 over ImageInput, ImageLoader, NativeDecoder and RgbImage left alive: argument
/// checks, the errors that name the input, the pixel limit, the reduced JPEG decode and crops.
/// </summary>
public class DecoderMutantTests
{
    internal static byte[] Jpeg(int width, int height)
    {
        using var image = new Image<Rgb24>(width, height, new Rgb24(90, 120, 150));
        using var stream = new MemoryStream();
        image.SaveAsJpeg(stream);
        return stream.ToArray();
    }

    private static RgbImage Load(byte[] bytes, long maxPixels = 1 << 20, ImageDecoding decoding = ImageDecoding.Native, int reduceTo = 0) =>
        ImageLoader.Decode(new MemoryStream(bytes), "test", maxPixels, decoding, reduceTo);

    private static string Problem(Action action) => Assert.Throws<ImageDecodeException>(action).Problem;

    [Fact]
    public void Inputs_refuse_missing_arguments_and_name_themselves()
    {
        Assert.Throws<ArgumentNullException>(() => ImageInput.FromFile(null!));
        Assert.Throws<ArgumentException>(() => ImageInput.FromFile(""));
        Assert.Throws<ArgumentNullException>(() => ImageInput.FromStream(null!));
        Assert.Throws<ArgumentNullException>(() => ImageInput.FromImage(null!));

        Assert.Equal("bytes[5]", ImageInput.FromBytes(new byte[5]).Name);
        Assert.Equal("stream", ImageInput.FromStream(new MemoryStream()).Name);
        Assert.Equal("named", ImageInput.FromStream(new MemoryStream(), "named").Name);
        using var image = new Image<Rgb24>(4, 3);
        Assert.Equal("image 4x3", ImageInput.FromImage(image).Name);
        Assert.Equal("named", ImageInput.FromImage(image, "named").Name);
    }

    [Fact]
    public void A_missing_file_is_a_decode_error_naming_it()
    {
        string path = Path.Combine(Path.GetTempPath(), $"ijepa-missing-{Guid.NewGuid():N}.png");
        var error = Assert.Throws<ImageDecodeException>(() => ImageInput.FromFile(path).Decode(1 << 20));
        Assert.Equal(path, error.Source);
        Assert.StartsWith("cannot open the file: ", error.Problem, StringComparison.Ordinal);
        Assert.IsType<FileNotFoundException>(error.InnerException);
    }

    [Fact]
    public void A_decoded_image_is_held_to_the_pixel_limit()
    {
        using var image = new Image<Rgb24>(8, 8);
        Assert.Throws<ImageDecodeException>(() => ImageInput.FromImage(image).Decode(63));
        Assert.Equal(64, ImageInput.FromImage(image).Decode(64).Width * 8);
    }

    [Fact]
    public void A_stream_read_to_its_end_is_empty()
    {
        var stream = new MemoryStream(Jpeg(8, 8));
        stream.Seek(0, SeekOrigin.End);
        Assert.Equal("the file is empty (0 bytes)", Problem(() => ImageInput.FromStream(stream).Decode(1 << 20)));
        Assert.Equal("the file is empty (0 bytes)", Problem(() => Load([])));
    }

    [Fact]
    public void Unknown_bytes_are_named_as_not_an_image()
    {
        Assert.Equal("not an image, or a format this library cannot read (JPEG, PNG, GIF, BMP, TIFF, WebP, TGA, PBM)",
            Problem(() => Load(TestData.Utf8("hello, this is not an image at all"))));
    }

    [Fact]
    public void Size_checks_refuse_empty_sides_and_count_pixels_exactly()
    {
        Assert.Equal("the image claims 0x5 pixels", Problem(() => ImageLoader.CheckSize(0, 5, "z", 100)));
        Assert.Equal("the image claims 5x0 pixels", Problem(() => ImageLoader.CheckSize(5, 0, "z", 100)));
        ImageLoader.CheckSize(8, 8, "z", 64);
        // The ImageSharp path checks the identified size itself, before any decode.
        byte[] jpeg = Jpeg(8, 8);
        Assert.StartsWith("8x8 = 64 pixels exceeds the limit of 63 (",
            Problem(() => Load(jpeg, maxPixels: 63, decoding: ImageDecoding.ImageSharp)), StringComparison.Ordinal);
        Assert.Equal(8, Load(jpeg, maxPixels: 64, decoding: ImageDecoding.ImageSharp).Width);
    }

    [Fact]
    public void Only_a_reduced_decode_shrinks_a_jpeg_and_to_the_smallest_scale_that_keeps_both_sides()
    {
        byte[] jpeg = Jpeg(64, 32);
        // libjpeg's scales are k/8: 8x4, 16x8, 24x12, 32x16, ... ; 32x16 is the first whose shorter side reaches 16.
        RgbImage reduced = Load(jpeg, decoding: ImageDecoding.NativeReduced, reduceTo: 16);
        Assert.Equal((32, 16), (reduced.Width, reduced.Height));
        RgbImage full = Load(jpeg, decoding: ImageDecoding.Native, reduceTo: 16);
        Assert.Equal((64, 32), (full.Width, full.Height));
        RgbImage native = NativeDecoder.Decode(new MemoryStream(jpeg), "n", 1 << 20, reduceTo: 16);
        Assert.Equal((32, 16), (native.Width, native.Height));
        RgbImage unreachable = NativeDecoder.Decode(new MemoryStream(jpeg), "n", 1 << 20, reduceTo: 100);
        Assert.Equal((64, 32), (unreachable.Width, unreachable.Height));
    }

    [Theory]
    [InlineData(new byte[] { 0xFF, 0xD8, 0xFF }, true)]
    [InlineData(new byte[] { 0xFF, 0xD8, 0x00 }, false)]
    [InlineData(new byte[] { 0xFF, 0x00, 0xFF }, false)]
    [InlineData(new byte[] { 0x00, 0xD8, 0xFF }, false)]
    [InlineData(new byte[] { 0x00, 0x00, 0xFF, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, false)]
    [InlineData(new byte[] { (byte)'R', (byte)'I', (byte)'F', (byte)'F', 0, 0, 0, 0, (byte)'W', (byte)'A', (byte)'V', (byte)'E' }, false)]
    [InlineData(new byte[] { (byte)'R', (byte)'I', (byte)'F', (byte)'F', 0, 0, 0, 0, (byte)'W', (byte)'E', (byte)'B', (byte)'P' }, true)]
    public void Native_decoders_take_jpeg_and_webp_signatures_only(byte[] head, bool handled)
    {
        var stream = new MemoryStream(head);
        Assert.Equal(handled, NativeDecoder.Handles(stream));
        Assert.Equal(0, stream.Position);
    }

    [Fact]
    public void The_native_decoder_names_headerless_input()
    {
        Assert.Equal("corrupt or unsupported image header",
            Problem(() => NativeDecoder.Decode(new MemoryStream([0xFF, 0xD8, 0xFF, 0x00, 0x00, 0x00]), "h", 100)));
    }

    [Fact]
    public void A_jpeg_too_large_for_a_buffer_overflows_instead_of_wrapping()
    {
        byte[] jpeg = Jpeg(8, 8);
        int sof = 2;
        while (!(jpeg[sof] == 0xFF && jpeg[sof + 1] == 0xC0))
        {
            sof++;
        }
        // SOF0: marker, length (2), precision (1), height (2), width (2); 65500 is libjpeg's largest side.
        jpeg[sof + 5] = jpeg[sof + 7] = 65500 >> 8;
        jpeg[sof + 6] = jpeg[sof + 8] = 65500 & 0xFF;
        Assert.Throws<OverflowException>(() => NativeDecoder.Decode(new MemoryStream(jpeg), "huge", long.MaxValue));
    }

    [Fact]
    public void ReadRest_reads_from_the_position_and_refuses_what_no_array_holds()
    {
        var stream = new MemoryStream([1, 2, 3, 4, 5]) { Position = 2 };
        Assert.Equal([3, 4, 5], ImageLoader.ReadRest(stream));
        var error = Assert.Throws<ImageDecodeException>(() => ImageLoader.ReadRest(new EndlessStream()));
        Assert.Equal("stream", error.Source);
        Assert.StartsWith("the file is too large to decode (", error.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Sixteen_bit_pngs_keep_the_high_byte()
    {
        // PNG stores 16-bit samples big-endian; Pillow unpacks RGBA;16B and LA;16B by keeping the first (high) byte
        // (0x12AB -> 0x12, where rounding to 8 bits would give 0x13), and LA -> RGB repeats L.
        using (var rgba = new Image<Rgba64>(2, 1, new Rgba64(0x12AB, 0x34CD, 0x56EF, 0x8000)))
        {
            Assert.Equal([0x12, 0x34, 0x56, 0x12, 0x34, 0x56], Load(Png(rgba, PngColorType.RgbWithAlpha)).Data.ToArray());
        }
        using var la = new Image<La32>(2, 1, new La32(0x9AF1, 0xFFFF));
        Assert.Equal([0x9A, 0x9A, 0x9A, 0x9A, 0x9A, 0x9A], Load(Png(la, PngColorType.GrayscaleWithAlpha)).Data.ToArray());
    }

    private static byte[] Png(Image image, PngColorType colorType)
    {
        using var stream = new MemoryStream();
        image.SaveAsPng(stream, new PngEncoder { BitDepth = PngBitDepth.Bit16, ColorType = colorType });
        return stream.ToArray();
    }

    [Fact]
    public void An_image_needs_three_bytes_a_pixel()
    {
        Assert.Equal(12, new RgbImage(2, 2, new byte[12]).Length);
        var error = Assert.Throws<ArgumentException>(() => new RgbImage(2, 2, new byte[11]));
        Assert.Equal("pixels", error.ParamName);
        Assert.StartsWith("11 bytes for a 2x2 RGB image", error.Message, StringComparison.Ordinal);
        Assert.Throws<OverflowException>(() => RgbImage.Rent(50_000, 50_000));
    }

    private static RgbImage Numbered(int width, int height)
    {
        byte[] pixels = new byte[width * height * 3];
        for (int i = 0; i < pixels.Length; i++)
        {
            pixels[i] = (byte)i;
        }
        return new RgbImage(width, height, pixels);
    }

    [Fact]
    public void Crops_copy_the_rows_they_cover()
    {
        RgbImage image = Numbered(4, 3);
        RgbImage crop = image.Crop(1, 1, 2, 2);
        Assert.Equal((2, 2), (crop.Width, crop.Height));
        // Row 1 starts at byte 12 and row 2 at 24; column 1 is 3 bytes in.
        Assert.Equal([15, 16, 17, 18, 19, 20, 27, 28, 29, 30, 31, 32], crop.Data.ToArray());
        Assert.Equal([33, 34, 35], image.Crop(3, 2, 1, 1).Data.ToArray());
        Assert.Equal(image.Data.ToArray(), image.Crop(0, 0, 4, 3).Data.ToArray());
    }

    [Theory]
    [InlineData(-1, 0, 1, 1)]
    [InlineData(0, -1, 1, 1)]
    [InlineData(3, 0, 2, 1)]
    [InlineData(0, 2, 1, 2)]
    public void Crops_that_leave_the_image_are_refused(int left, int top, int width, int height)
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => Numbered(4, 3).Crop(left, top, width, height));
        Assert.StartsWith($"crop {width}x{height}+{left}+{top} leaves the 4x3 image", error.Message, StringComparison.Ordinal);
    }

    private static ImageDecodeException Refused(string folder, string file, ImageDecoding decoding = ImageDecoding.Native)
    {
        (byte[] bytes, JsonElement verdict) = PillowCorpus.Case(folder, file);
        Assert.Equal("refuse", verdict.GetProperty("pillow").GetString());
        return Assert.Throws<ImageDecodeException>(() => Load(bytes, decoding: decoding));
    }

    [Fact]
    public void A_tiff_is_decoded_from_its_first_page_only()
    {
        // Pillow reads page 1 and never looks at page 2, whose compression no decoder knows; decoding every page
        // would fail on it.
        (byte[] bytes, JsonElement verdict) = PillowCorpus.Case("decoder", "two-pages.tif");
        Assert.Equal("accept", verdict.GetProperty("pillow").GetString());
        RgbImage image = Load(bytes);
        Assert.Equal((3, 2), (image.Width, image.Height));
        Assert.Equal(PillowCorpus.Pixels(verdict), image.Data.ToArray());
    }

    [Fact]
    public void A_bigtiff_skips_the_classic_strip_check()
    {
        // ImageSharp identifies BigTIFF as TIFF too, but TiffStripGuard reads classic TIFF only: read as one, this file
        // claims a strip beyond its end. Pillow reads it.
        (byte[] bytes, JsonElement verdict) = PillowCorpus.Case("decoder", "bigtiff.tif");
        Assert.Equal("accept", verdict.GetProperty("pillow").GetString());
        RgbImage image = Load(bytes);
        Assert.Equal((3, 2), (image.Width, image.Height));
        Assert.Equal(PillowCorpus.Pixels(verdict), image.Data.ToArray());
    }

    [Fact]
    public void ImageSharp_failures_are_named_by_kind()
    {
        // Files Pillow refuses that reach ImageSharp; each exception type gets its own words and stays the inner exception.
        ImageDecodeException unsupported = Refused("decoder", "unknown-compression.tif");
        Assert.StartsWith("unsupported image variant: ", unsupported.Problem, StringComparison.Ordinal);
        Assert.IsType<NotSupportedException>(unsupported.InnerException);

        ImageDecodeException corrupt = Refused("damaged", "jpeg-s444-dht_counts.jpg", ImageDecoding.ImageSharp);
        Assert.StartsWith("corrupt or truncated image: ", corrupt.Problem, StringComparison.Ordinal);
        Assert.IsType<InvalidImageContentException>(corrupt.InnerException);

        ImageDecodeException unreadable = Refused("damaged", "tiff-deflate-del1.tif");
        Assert.StartsWith("unreadable image: ", unreadable.Problem, StringComparison.Ordinal);
        Assert.IsType<ImageFormatException>(unreadable.InnerException);

        ImageDecodeException failed = Refused("damaged", "tiff-deflate-cut12.tif");
        Assert.StartsWith("the decoder failed: InvalidOperationException: ", failed.Problem, StringComparison.Ordinal);
        Assert.IsType<InvalidOperationException>(failed.InnerException);
    }

    [Fact]
    public void A_tga_only_imagesharp_would_identify_is_not_an_image()
    {
        // A 17-byte cut of an RLE TGA: ImageSharp's looser header check takes it, Pillow's does not.
        Assert.Equal("cannot identify image file: not a TGA file (Pillow's header check fails)", Refused("damaged", "tga-rle-cut17.tga").Problem);
    }

    [Fact]
    public void A_native_codec_failure_names_skias_result()
    {
        // A progressive JPEG with scans missing: libjpeg-turbo's error reaches us as SKCodecResult.InvalidInput.
        Assert.Equal("the native decoder failed: InvalidInput", Refused("damaged", "jpeg-prog-scans1.jpg").Problem);
    }

    [Fact]
    public async Task An_interlace_flag_in_an_earlier_header_is_not_forgotten()
    {
        // Pillow keeps the last IHDR's size but the first one's interlace flag, so the plain 2x2 data is short and it
        // refuses the file. PngStreamGuard judges by the last header alone; the interlace guard reads the first one and
        // is what refuses it here.
        ImageDecodeException? error = null;
        await Task.Run(() => error = Refused("decoder", "two-headers.png")).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.StartsWith("truncated interlaced PNG: ", error!.Problem, StringComparison.Ordinal);
    }

    /// <summary>Claims more bytes than any array holds, and has none.</summary>
    private sealed class EndlessStream : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => true;

        public override bool CanWrite => false;

        public override long Length => long.MaxValue;

        public override long Position { get; set; }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}

/// <summary>
/// Pixel buffers go back to the shared pool exactly once, and only the ones rented from it. Runs alone: another test
/// renting from the same pool between a return and the next rent would take the buffer looked for.
/// </summary>
[Collection(nameof(ProcessWide))]
public class DecoderPoolMutantTests
{
    // ArrayPool.Create's bucket drops a return when none of its arrays is out, so a buffer returned twice (or one
    // the pool never lent) vanishes unseen when the bucket starts balanced, as it does when these tests run first
    // (Stryker's rerun): a fresh pool and one array held out make every return land where the next rent finds it.
    private static byte[] FreshPoolWithOneHeld()
    {
        PixelBuffers.Trim();
        return PixelBuffers.Pool.Rent(3);
    }

    [Fact]
    public void A_rented_image_gives_its_buffer_back_once()
    {
        byte[] held = FreshPoolWithOneHeld();
        RgbImage image = RgbImage.Rent(1, 1);
        byte[] pixels = image.Pixels;
        image.Release();
        Assert.Same(pixels, PixelBuffers.Pool.Rent(3));
        PixelBuffers.Pool.Return(pixels);

        RgbImage twice = RgbImage.Rent(1, 1);
        twice.Release();
        twice.Release();
        byte[] first = PixelBuffers.Pool.Rent(3), second = PixelBuffers.Pool.Rent(3);
        Assert.NotSame(first, second);
        PixelBuffers.Pool.Return(first);
        PixelBuffers.Pool.Return(second);
        PixelBuffers.Pool.Return(held);
    }

    [Fact]
    public void An_image_over_the_callers_array_keeps_it()
    {
        byte[] held = FreshPoolWithOneHeld();
        byte[] own = new byte[16];
        new RgbImage(1, 1, own).Release();
        byte[] rented = PixelBuffers.Pool.Rent(16);
        Assert.NotSame(own, rented);
        PixelBuffers.Pool.Return(rented);
        PixelBuffers.Pool.Return(held);
    }

    [Fact]
    public void The_native_decoder_returns_its_rgba_buffer()
    {
        byte[] jpeg = DecoderMutantTests.Jpeg(256, 256);
        for (int i = 0; i < 3; i++)
        {
            NativeDecoder.Decode(new MemoryStream(jpeg), "j", 1 << 20).Release();
        }
        const int Calls = 10;
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < Calls; i++)
        {
            NativeDecoder.Decode(new MemoryStream(jpeg), "j", 1 << 20).Release();
        }
        long perCall = (GC.GetAllocatedBytesForCurrentThread() - before) / Calls;
        // The RGBA buffer is 256 x 256 x 4 = 262,144 bytes.
        Assert.True(perCall < 262_144 / 2, $"{perCall:N0} bytes allocated per call: the RGBA buffer is not returned");
    }
}
