using System.Text.Json;
using IJepa.Preprocessing;

namespace IJepa.Tests;

/// <summary>
/// Kills the mutants that Stryker left alive in PillowBmp and BmpHeaderGuard: BMP files crafted byte by byte by
/// tests/reference/bmp/generate_bmp.py (every header size, bit depth, palette kind, bitfield layout, RLE escape
/// and truncation the reader tells apart) must get Pillow 9.4's verdict and, where Pillow decodes, its exact
/// pixels; where both refuse, our refusal's exact words, since most surviving mutants only change a message.
/// </summary>
public class BmpMutantTests
{
    private const long Limit = 1 << 24;

    private static string Folder => Path.Combine(AppContext.BaseDirectory, "bmp");

    // By case name: the file name without ".bmp".
    private static readonly Lazy<Dictionary<string, JsonElement>> Verdicts = new(() =>
        PillowCorpus.Load(Folder).ToDictionary(c => Path.GetFileNameWithoutExtension(c.Key), c => c.Value));

    // Our words for each file Pillow refuses too (Pillow's own reason is in verdicts.json).
    private static readonly Dictionary<string, string> Problems = new()
    {
        ["b4-grey-w10"] = "bad configuration when reading image file (BMP rows shorter than their pixels)",
        ["b1-grey3-w40"] = "bad configuration when reading image file (BMP rows shorter than their pixels)",
        ["b4-grey-w10-short1"] = "bad configuration when reading image file (BMP rows shorter than their pixels)",
        ["b4-grey-w10-topdown"] = "bad configuration when reading image file (BMP rows shorter than their pixels)",
        ["b4-grey-w12-h3"] = "bad configuration when reading image file (BMP rows shorter than their pixels)",
        ["b8-pal300"] = "invalid palette size",
        ["b8-colors65537"] = "Unsupported BMP Palette size (65537)",
        ["h52-b24"] = "Unsupported BMP header type (52)",
        ["h56-b24"] = "Unsupported BMP header type (56)",
        ["h4"] = "Unsupported BMP header type (4)",
        // Pillow names the header type; we refuse the size before reading a header of -2 bytes.
        ["h2"] = "Truncated File Read (the BMP header is cut short)",
        ["bf40-b32-odd"] = "Unsupported BMP bitfields layout",
        ["bf108-b8"] = "Unsupported BMP bitfields layout",
        ["bf40-masks-cut"] = "cannot identify image file: broken BMP structure (the bitfield masks are cut short)",
        ["bf40-masks-exact"] = "image file is truncated: the BMP pixel data needs 22 bytes from byte 66, the file has 0",
        ["comp5"] = "Unsupported BMP compression (5)",
        ["bits2"] = "Unsupported BMP pixel depth (2)",
        ["w0"] = "cannot identify image file: broken BMP structure (the BMP claims 0x2 pixels)",
        ["h0"] = "cannot identify image file: broken BMP structure (the BMP claims 2x0 pixels)",
        ["w2g"] = "cannot identify image file: broken BMP structure (the BMP claims 2147483648x1 pixels)",
        ["h2g"] = "cannot identify image file: broken BMP structure (the BMP claims 1x2147483648 pixels)",
        ["wmax"] = $"2147483647x1 = {int.MaxValue:N0} pixels exceeds the limit of {Limit:N0} (a possible decompression bomb; raise PreprocessingOptions.MaxPixels to allow it)",
        ["hmax"] = $"1x2147483647 = {int.MaxValue:N0} pixels exceeds the limit of {Limit:N0} (a possible decompression bomb; raise PreprocessingOptions.MaxPixels to allow it)",
        ["b24-cut"] = "image file is truncated: the BMP pixel data needs 36 bytes from byte 54, the file has 20",
        ["b24-header-only"] = "image file is truncated: the BMP pixel data needs 36 bytes from byte 54, the file has 0",
        ["cut13"] = "cannot identify image file: broken BMP structure (the file header is cut short)",
        ["cut14"] = "cannot identify image file: broken BMP structure (the bitmap header is cut short)",
        ["cut15"] = "cannot identify image file: broken BMP structure (the bitmap header is cut short)",
        ["cut18"] = "Truncated File Read (the BMP header is cut short)",
        ["cut28"] = "Truncated File Read (the BMP header is cut short)",
        ["rle8-bw"] = "unknown raw mode for given image mode",
        ["rle8-b24"] = "unknown raw mode for given image mode",
        ["rle8-delta-cut2"] = "not enough values to unpack (an RLE delta is cut short)",
        ["rle8-delta-cut1"] = "not enough image data (the RLE data gives 3 of 15 pixels)",
        ["rle8-delta-cut0"] = "not enough image data (the RLE data gives 3 of 15 pixels)",
        ["rle8-eob-early"] = "not enough image data (the RLE data gives 4 of 8 pixels)",
        ["rle8-short"] = "not enough image data (the RLE data gives 4 of 8 pixels)",
        ["rle8-odd-tail"] = "not enough image data (the RLE data gives 7 of 8 pixels)",
        ["rle8-abs-cut"] = "not enough image data (the RLE data gives 6 of 8 pixels)",
    };

    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        foreach (string name in Verdicts.Value.Keys)
        {
            data.Add(name);
        }
        return data;
    }

    private static byte[] Bytes(string name) => File.ReadAllBytes(Path.Combine(Folder, name + ".bmp"));

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Each_crafted_bmp_gets_pillows_verdict_and_pixels(string name)
    {
        JsonElement verdict = Verdicts.Value[name];
        byte[] bytes = Bytes(name);
        RgbImage? ours = null;
        Exception? failure = null;
        var decode = Task.Run(() =>
        {
            try
            {
                ours = ImageLoader.Decode(new MemoryStream(bytes), name, Limit, ImageDecoding.Native, 0);
            }
            catch (Exception e)
            {
                failure = e;
            }
        });
        // Some mutants of the RLE loop never end: a hang must fail, not stall the run.
        await decode.WaitAsync(TimeSpan.FromSeconds(10));
        try
        {
            if (verdict.GetProperty("pillow").GetString() == "refuse")
            {
                var refusal = Assert.IsType<ImageDecodeException>(failure);
                Assert.Equal(name, refusal.Source);
                Assert.Equal(Problems[name], refusal.Problem);
                return;
            }
            Assert.Null(failure);
            Assert.False(Problems.ContainsKey(name), $"{name}: Pillow decodes it");
            Assert.Equal(verdict.GetProperty("width").GetInt32(), ours!.Width);
            Assert.Equal(verdict.GetProperty("height").GetInt32(), ours.Height);
            Assert.Equal(PillowCorpus.Pixels(verdict), ours.Data.ToArray());
        }
        finally
        {
            ours?.Release();
        }
    }

    [Fact]
    public void Opened_by_path_each_bmp_gets_pillows_verdict_from_a_path()
    {
        // From a path Pillow memory-maps uncompressed L and P files, which reads rows shorter than their pixels
        // (refused from bytes); the corpus must hold such files, or this test proves nothing.
        Assert.True(Verdicts.Value.Values.Count(v => v.TryGetProperty("from_path", out _)) >= 2);
        foreach (string name in Verdicts.Value.Keys)
        {
            string path = Path.Combine(Folder, name + ".bmp");
            PillowCorpus.AssertVerdict(Verdicts.Value[name], ImageInput.FromFile(path), path);
        }
    }

    [Fact]
    public void A_file_read_by_the_caller_is_still_decoded_as_a_file()
    {
        // Pillow decodes this file from a path (memory-mapped) and refuses its bytes.
        string path = Path.Combine(Folder, "b4-grey-w10.bmp");
        byte[] bytes = File.ReadAllBytes(path);
        RgbImage fromPath = ImageInput.FromFile(path).Decode(Limit), fromContents = ImageInput.FromFile(path, bytes).Decode(Limit);
        Assert.Equal(fromPath.Data.ToArray(), fromContents.Data.ToArray());
        fromPath.Release();
        fromContents.Release();
        Assert.Equal(path, ImageInput.FromFile(path, bytes).Name);
        Assert.Throws<ImageDecodeException>(() => ImageInput.FromBytes(bytes, path).Decode(Limit));
    }

    [Fact]
    public void Every_refusal_has_its_words_and_the_corpus_covers_both_verdicts()
    {
        var refused = Verdicts.Value.Where(v => v.Value.GetProperty("pillow").GetString() == "refuse").Select(v => v.Key).ToHashSet();
        Assert.Equal(refused.Order(), Problems.Keys.Order());
        Assert.True(Verdicts.Value.Count - refused.Count >= 40);
    }

    [Fact]
    public void Only_bm_starts_a_bmp()
    {
        Assert.True(PillowBmp.Handles("BM"u8));
        Assert.False(PillowBmp.Handles("XM"u8));
        Assert.False(PillowBmp.Handles("BX"u8));
        Assert.False(PillowBmp.Handles("B"u8));
    }

    private static byte[] FileHeader(string magic, uint offset, int length)
    {
        var bytes = new byte[length];
        bytes[0] = (byte)magic[0];
        bytes[1] = (byte)magic[1];
        BitConverter.TryWriteBytes(bytes.AsSpan(10), offset);
        return bytes;
    }

    [Fact]
    public void The_guard_checks_bm_files_only_against_the_bytes_after_the_stream_position()
    {
        // Not "BM": left to the other decoders, whatever the offset.
        BmpHeaderGuard.Check(new MemoryStream(FileHeader("BX", uint.MaxValue, 14)), "x");
        BmpHeaderGuard.Check(new MemoryStream(FileHeader("XM", uint.MaxValue, 14)), "x");
        // Under 14 bytes there is no offset to check (PillowBmp refuses the file).
        byte[] shortHeader = FileHeader("BM", uint.MaxValue, 14)[..13];
        BmpHeaderGuard.Check(new MemoryStream(shortHeader), "x");

        // An offset equal to the length is allowed (no pixel data: PillowBmp says the file is truncated).
        var exact = new MemoryStream(FileHeader("BM", 30, 30));
        exact.Position = 0;
        BmpHeaderGuard.Check(exact, "x");
        Assert.Equal("corrupt BMP: the pixel data would start at byte 31 of a 30-byte file",
            Assert.Throws<ImageDecodeException>(() => BmpHeaderGuard.Check(new MemoryStream(FileHeader("BM", 31, 30)), "x")).Problem);

        // A BMP 100 bytes into its stream: the length counted is the 30 bytes from the position on.
        byte[] prefixed = [.. new byte[100], .. FileHeader("BM", 50, 30)];
        var stream = new MemoryStream(prefixed) { Position = 100 };
        Assert.Equal("corrupt BMP: the pixel data would start at byte 50 of a 30-byte file",
            Assert.Throws<ImageDecodeException>(() => BmpHeaderGuard.Check(stream, "x")).Problem);
        byte[] fits = [.. new byte[100], .. FileHeader("BM", 30, 30)];
        var fitting = new MemoryStream(fits) { Position = 100 };
        BmpHeaderGuard.Check(fitting, "x");
        Assert.Equal(100, fitting.Position);
    }

    [Fact]
    public void A_bmp_is_held_to_the_pixel_limit()
    {
        byte[] bytes = Bytes("b24-topdown");
        Assert.Equal("3x4 = 12 pixels exceeds the limit of 11 (a possible decompression bomb; raise PreprocessingOptions.MaxPixels to allow it)",
            Assert.Throws<ImageDecodeException>(() => PillowBmp.Decode(bytes, "x", 11)).Problem);
        PillowBmp.Decode(bytes, "x", 12).Release();
    }

    [Fact]
    public void A_refused_bmp_gives_its_pixel_buffer_back()
    {
        // A 1024 x 1024 24-bit header with no pixel data: the 3 MiB image is rented, then the data found missing.
        byte[] bytes = new byte[54];
        "BM"u8.CopyTo(bytes);
        BitConverter.TryWriteBytes(bytes.AsSpan(10), 54);
        BitConverter.TryWriteBytes(bytes.AsSpan(14), 40);
        BitConverter.TryWriteBytes(bytes.AsSpan(18), 1024);
        BitConverter.TryWriteBytes(bytes.AsSpan(22), 1024);
        BitConverter.TryWriteBytes(bytes.AsSpan(28), (ushort)24);
        for (int i = 0; i < 2; i++)
        {
            Assert.Throws<ImageDecodeException>(() => PillowBmp.Decode(bytes, "x", Limit));
        }
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 4; i++)
        {
            Assert.Throws<ImageDecodeException>(() => PillowBmp.Decode(bytes, "x", Limit));
        }
        // Returned buffers are rented again; lost ones cost 4 MiB (the pool's bucket) each time.
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 8 << 20, "the refused image's buffer was not returned");
    }
}
