using IJepa.Preprocessing;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using Xunit.Abstractions;

namespace IJepa.Tests;

/// <summary>
/// The preprocessor gives every pixel buffer it rents (decoded, resized, cropped) back to the bounded pool: a buffer
/// kept would make each call allocate it anew. Runs alone: the pool is process-wide, and another test renting the same
/// sizes between two calls would make this thread allocate.
/// </summary>
[Collection(nameof(ProcessWide))]
public class PreprocessingBufferTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(ResizeMode.Stretch)]
    [InlineData(ResizeMode.ShorterSideThenCenterCrop)]
    public void Pixel_buffers_go_back_to_the_pool(ResizeMode mode)
    {
        byte[] jpeg;
        using (var image = new Image<Rgb24>(600, 400, new Rgb24(90, 120, 150)))
        using (var stream = new MemoryStream())
        {
            image.SaveAsJpeg(stream);
            jpeg = stream.ToArray();
        }
        var preprocessor = new ImagePreprocessor(new PreprocessingOptions { ResizeMode = mode, ResizeShorterSide = 256 });
        float[] values = new float[preprocessor.ValuesPerImage];
        for (int i = 0; i < 3; i++)
        {
            preprocessor.Preprocess(ImageInput.FromBytes(jpeg), values);
        }
        const int Calls = 10;
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < Calls; i++)
        {
            preprocessor.Preprocess(ImageInput.FromBytes(jpeg), values);
        }
        long perCall = (GC.GetAllocatedBytesForCurrentThread() - before) / Calls;
        output.WriteLine($"{mode}: {perCall:N0} bytes allocated per call");
        // The smallest rented buffer, the 224 × 224 RGB crop, is 150,528 bytes (the pool hands out 256 KiB for it).
        Assert.True(perCall < 150_528 / 2, $"{perCall:N0} bytes allocated per call: a pixel buffer is not returned");
    }

    [Fact]
    public void A_photo_as_stored_is_decoded_into_one_pixel_buffer()
    {
        // 2,000 × 1,500: RGBA 12 MB and RGB 9 MB, both in the pool's 16 MiB size class.
        byte[] jpeg;
        using (var image = new Image<Rgb24>(2000, 1500, new Rgb24(90, 120, 150)))
        using (var stream = new MemoryStream())
        {
            image.SaveAsJpeg(stream);
            jpeg = stream.ToArray();
        }
        var preprocessor = new ImagePreprocessor(new PreprocessingOptions());
        float[] values = new float[preprocessor.ValuesPerImage];
        preprocessor.Preprocess(ImageInput.FromBytes(jpeg), values);
        ImagePreprocessor.TrimCaches(); // an empty pool: every buffer of this call is allocated, and counted
        long before = GC.GetAllocatedBytesForCurrentThread();
        preprocessor.Preprocess(ImageInput.FromBytes(jpeg), values);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        output.WriteLine($"{allocated:N0} bytes allocated by the first decode into an empty pool");
        // One 16 MiB buffer (RGBA, packed to RGB in place) and the resize's smaller ones; a second 16 MiB buffer
        // for the RGB copy would make the peak two large buffers per decoder, as before.
        Assert.InRange(allocated, 16L << 20, (16L << 20) + (8L << 20));
    }

    [Theory]
    [InlineData("photo_flower_1024x768.jpg")]
    [InlineData("exif_orientation_6.jpg")]
    [InlineData("animated_32x24.webp")]
    public void Bytes_read_in_place_decode_as_a_file_does(string name)
    {
        // Bytes in memory are handed to the native decoder where they lie (pinned), not copied: a slice of a larger
        // buffer, at an offset, must read exactly the file's bytes and no neighbour.
        string path = Path.Combine(AppContext.BaseDirectory, "images", "input", name);
        byte[] file = File.ReadAllBytes(path);
        byte[] padded = new byte[file.Length + 29];
        padded.AsSpan().Fill(0xFF);
        file.CopyTo(padded, 13);
        var preprocessor = new ImagePreprocessor(new PreprocessingOptions());
        float[] fromPath = new float[preprocessor.ValuesPerImage], fromSlice = new float[fromPath.Length], fromStream = new float[fromPath.Length];
        preprocessor.Preprocess(ImageInput.FromFile(path), fromPath);
        preprocessor.Preprocess(ImageInput.FromBytes(padded.AsMemory(13, file.Length)), fromSlice);
        using (var stream = new MemoryStream(padded, 0, 13 + file.Length, writable: false, publiclyVisible: true) { Position = 13 })
        {
            preprocessor.Preprocess(ImageInput.FromStream(stream), fromStream);
        }
        Assert.Equal(fromPath, fromSlice);
        Assert.Equal(fromPath, fromStream);
    }

    [Fact]
    public void The_native_decoder_reads_a_memory_stream_from_its_position_to_its_end_and_no_further()
    {
        byte[] file = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "images", "input", "photo_flower_1024x768.jpg"));
        byte[] padded = new byte[13 + file.Length + 29];
        padded.AsSpan().Fill(0xFF);
        file.CopyTo(padded, 13);
        RgbImage expected = NativeDecoder.Decode(new MemoryStream(file), "copied", long.MaxValue); // not visible: the copying path
        // A stream whose origin (5) and position (8 past it) both matter: the image starts at 13.
        using (var stream = new MemoryStream(padded, 5, 8 + file.Length, writable: false, publiclyVisible: true) { Position = 8 })
        {
            RgbImage actual = NativeDecoder.Decode(stream, "in place", long.MaxValue);
            Assert.Equal(expected.Data.ToArray(), actual.Data.ToArray());
            actual.Release();
        }
        expected.Release();
        // The stream ends 100 bytes before the image does, inside the same buffer: truncated, not read past its end.
        using var cut = new MemoryStream(padded, 5, 8 + file.Length - 100, writable: false, publiclyVisible: true) { Position = 8 };
        ImageDecodeException error = Assert.Throws<ImageDecodeException>(() => NativeDecoder.Decode(cut, "cut", long.MaxValue));
        Assert.Contains("truncated", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TrimCaches_drops_the_kept_pixel_buffers()
    {
        System.Buffers.ArrayPool<byte> pool = PixelBuffers.Pool;
        ImagePreprocessor.TrimCaches();
        Assert.NotSame(pool, PixelBuffers.Pool);
    }
}
