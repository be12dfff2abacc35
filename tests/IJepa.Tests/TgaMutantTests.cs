using System.IO.Compression;
using System.Text.Json;
using IJepa.Preprocessing;

namespace IJepa.Tests;

/// <summary>
/// Kills the mutants that Stryker's run over PillowTga left alive or never reached. The damaged-file corpus only holds
/// a few image types, so tests/reference/tga/generate_tga.py crafts one small file per code path (every image type and
/// depth Pillow maps, 15/16/24/32-bit colour maps with starts and short lengths, colour maps on grey and true-colour
/// modes, ID fields, both origin bits, RLE packets ending rows and files, truncations) and records Pillow 9.4's verdict
/// and RGB pixels. Where Pillow accepts a file we must decode the same pixels; where it refuses we must refuse with the
/// message that says why, compared exactly.
/// </summary>
public class TgaMutantTests
{
    private static string Folder => Path.Combine(AppContext.BaseDirectory, "tga");

    private static readonly Lazy<Dictionary<string, JsonElement>> Verdicts = new(() => PillowCorpus.Load(Folder));

    public static TheoryData<string> Cases() => [.. Verdicts.Value.Keys.Order(StringComparer.Ordinal)];

    private static string Refusal(string file) => PillowCorpus.Refusal(Folder, file);

    private static byte[] Header(int imageType, int width, int height, int depth) =>
        [0, 0, (byte)imageType, 0, 0, 0, 0, 0, 0, 0, 0, 0, (byte)width, (byte)(width >> 8), (byte)height, (byte)(height >> 8), (byte)depth, 0];

    [Theory]
    [MemberData(nameof(Cases))]
    public void Each_file_gets_pillows_verdict_and_pixels(string file)
    {
        string path = Path.Combine(Folder, file);
        PillowCorpus.AssertVerdict(Verdicts.Value[file], ImageInput.FromFile(path), path);
        // From bytes too: Pillow memory-maps raw L files only when opened by path, which changes no verdict here.
        PillowCorpus.AssertVerdict(Verdicts.Value[file], ImageInput.FromBytes(File.ReadAllBytes(path), path), path);
    }

    // The refusals Pillow words this way (verdicts.json), with the detail our messages add: mode names, sizes, counts.
    [Theory]
    [InlineData("t2-24-short1.tga", "image file is truncated: the TGA pixel data has 44 of 45 bytes")]
    [InlineData("t3-8-bare.tga", "image file is truncated: the TGA pixel data has 0 of 15 bytes")]
    [InlineData("t2-24-id-past-end.tga", "image file is truncated: the TGA pixel data has 0 of 45 bytes")]
    [InlineData("t1-map24-cut.tga", "image file is truncated: the TGA pixel data has 0 of 15 bytes")]
    [InlineData("t1-map24-start100-len157.tga", "invalid palette size (257 TGA colour map entries)")]
    [InlineData("t1-map32.tga", "unrecognized raw mode (a 32-bit TGA colour map)")]
    [InlineData("t3-1-map24.tga", "unrecognized image mode (a colour map on a TGA image of mode 1)")]
    [InlineData("t2-24-map24.tga", "unrecognized image mode (a colour map on a TGA image of mode RGB)")]
    [InlineData("t2-16-map16.tga", "unrecognized image mode (a colour map on a TGA image of mode RGB)")]
    [InlineData("t2-32-map24.tga", "unrecognized image mode (a colour map on a TGA image of mode RGBA)")]
    [InlineData("t1-16.tga", "cannot load this image (Pillow has no TGA decoder for image type 1 at 16 bits)")]
    [InlineData("t10-1.tga", "cannot load this image (Pillow has no TGA decoder for image type 10 at 1 bits)")]
    [InlineData("t10-24-run-crosses-row.tga", "buffer overrun when reading image file (a TGA run crosses the end of a row)")]
    [InlineData("t10-24-run-cut.tga", "image file is truncated: the TGA RLE data ends after 2 of 3 rows")]
    [InlineData("t10-24-literal-cut.tga", "image file is truncated: the TGA RLE data ends after 1 of 3 rows")]
    [InlineData("t10-24-empty.tga", "image file is truncated: the TGA RLE data ends after 0 of 3 rows")]
    [InlineData("t11-1.tga", "image file is truncated: the TGA RLE data ends after 0 of 2 rows")]
    public void A_refused_file_says_why(string file, string problem) => Assert.Equal(problem, Refusal(file));

    [Fact]
    public void The_header_check_wants_both_sides()
    {
        // Pillow's check is size > 0 on each side; one pixel is the smallest image it opens.
        Assert.True(PillowTga.Handles(Header(2, 1, 1, 24)));
        Assert.False(PillowTga.Handles(Header(2, 0, 1, 24)));
        Assert.False(PillowTga.Handles(Header(2, 1, 0, 24)));
    }

    [Fact]
    public void Decoding_something_else_is_refused_by_the_header_check()
    {
        // The loader checks the header first; a direct call must not read garbage as pixels.
        var refusal = Assert.Throws<ImageDecodeException>(() => PillowTga.Decode(TestData.Utf8("hello, this is not a TGA file"), "test", 1 << 20));
        Assert.Equal("cannot identify image file: not a TGA file (Pillow's header check fails)", refusal.Problem);
    }

    [Fact]
    public void A_tga_is_held_to_the_pixel_limit_before_its_data_is_read()
    {
        byte[] file = [.. Header(2, 5, 3, 24), .. new byte[45]];
        var refusal = Assert.Throws<ImageDecodeException>(() => PillowTga.Decode(file, "test", 14));
        Assert.Equal("5x3 = 15 pixels exceeds the limit of 14 (a possible decompression bomb; raise PreprocessingOptions.MaxPixels to allow it)", refusal.Problem);
        PillowTga.Decode(file, "test", 15).Release();
    }

    [Fact]
    public void A_row_buffer_too_large_for_an_int_is_refused_not_wrapped()
    {
        // 65535 x 16385 at 32 bits is 4 295 163 900 bytes: wrapped to 32 bits that is 196 604, a buffer for a
        // different image that the decoder would then read as this one.
        Assert.Throws<OverflowException>(() => PillowTga.Decode(Header(2, 65535, 16385, 32), "test", long.MaxValue));
    }
}
