using System.Globalization;
using System.IO.Compression;
using System.Text.Json;
using IJepa.Preprocessing;

namespace IJepa.Tests;

/// <summary>
/// Portable anymaps (P1–P6) against Pillow 9.4's verdicts and pixels, committed by tests/reference/pnm/generate_pnm.py:
/// every magic number, raw and rescaled maxvals, 16-bit samples, comments and odd whitespace, samples above maxval,
/// and truncations of each kind of data. Where Pillow refuses a file we throw an <see cref="ImageDecodeException"/>
/// naming it, whose problem starts with Pillow's own reason (a decompression bomb: our pixel limit, naming Pillow's
/// pixel count); where Pillow accepts it we decode the same RGB pixels. Where our problem adds details (byte and value
/// counts, the claimed size), <see cref="Problems"/> holds its exact words, checked by hand against the file.
/// </summary>
public class PnmTests
{
    private static string Folder => Path.Combine(AppContext.BaseDirectory, "pnm");

    private static readonly Lazy<Dictionary<string, JsonElement>> Verdicts = new(() => PillowCorpus.Load(Folder));

    private const long Limit = 1L << 28;

    private static string Bomb(string size, string pixels) =>
        $"{size} = {pixels} pixels exceeds the limit of {Limit:N0} (a possible decompression bomb; raise PreprocessingOptions.MaxPixels to allow it)";

    // Our exact words where they say more than Pillow's reason: what the file claims and holds.
    private static readonly Dictionary<string, string> Problems = new()
    {
        ["h-p5x.pnm"] = "cannot identify image file: not a portable anymap (P1 to P6)",
        ["h-height0.pnm"] = "cannot identify image file: the image claims 1x0 pixels",
        ["h-height-negative.pnm"] = "cannot identify image file: the image claims 1x-1 pixels",
        ["p5-width0.pnm"] = "cannot identify image file: the image claims 0x3 pixels",
        ["p5-negative.pnm"] = "cannot identify image file: the image claims -5x3 pixels",
        ["h-wmax.pnm"] = Bomb("2147483647x1", $"{int.MaxValue:N0}"),
        ["h-hmax.pnm"] = Bomb("1x2147483647", $"{int.MaxValue:N0}"),
        ["h-p1-hmax.pnm"] = Bomb("1x2147483647", $"{int.MaxValue:N0}"),
        ["h-w2g.pnm"] = Bomb("2147483648x1", $"{2147483648L:N0}"),
        ["h-h2g.pnm"] = Bomb("1x2147483648", $"{2147483648L:N0}"),
        ["h-p4-w2g.pnm"] = Bomb("2147483648x1", $"{2147483648L:N0}"),
        ["h-20000x20000.pnm"] = Bomb("20000x20000", $"{400_000_000L:N0}"),
        ["h-huge.pnm"] = Bomb("9999999999x9999999999", $"{99_999_999_980_000_000_001m:N0}"),
        ["p2-wide-negative.pnm"] = "argument out of range: a negative sample",
        // P4 rows of 11 pixels take 2 bytes: 6 bytes for 3 rows.
        ["t-p4-cut1.pnm"] = "image file is truncated: the PBM pixel data has 5 of 6 bytes",
        ["t-p4-cut7.pnm"] = "image file is truncated: the PBM pixel data has 0 of 6 bytes",
        ["t-p5-cut1.pnm"] = "image file is truncated: the pixel data has 14 of 15 bytes",
        ["t-p5-max65535-cut21.pnm"] = "image file is truncated: the pixel data has 9 of 30 bytes",
        ["t-p6-cut28.pnm"] = "image file is truncated: the pixel data has 17 of 45 bytes",
        ["t-p5-max15-cut12.pnm"] = "not enough image data: the pixel data has 3 of 15 bytes",
        ["t-p6-max1000-cut51.pnm"] = "not enough image data: the pixel data has 39 of 90 bytes",
        ["t-p6-max65535-cut1.pnm"] = "not enough image data: the pixel data has 89 of 90 bytes",
        ["t-p5-max1000-cut1.pnm"] = "not enough image data: the pixel data has 29 of 30 bytes",
        ["t-p5-max256-cut1.pnm"] = "not enough image data: the pixel data has 29 of 30 bytes",
        ["p5-header-eof2.pnm"] = "image file is truncated: the pixel data has 0 of 15 bytes",
        ["h-comment-eof-token.pnm"] = "not enough image data: the pixel data has 0 of 1 bytes",
        ["p1-short.pnm"] = "not enough image data: 3 of 6 pixels",
        ["p1-comment-open.pnm"] = "not enough image data: 2 of 3 pixels",
        ["p1-all-comment.pnm"] = "not enough image data: 0 of 3 pixels",
        ["p2-short.pnm"] = "not enough image data: 3 of 6 values",
        ["p3-short.pnm"] = "not enough image data: 5 of 6 values",
        ["p2-all-comment.pnm"] = "not enough image data: 0 of 3 values",
        ["big-p2-comment-to-eof.pnm.gz"] = "not enough image data: 1 of 3 values",
        ["h-token11-latin1.pnm"] = "Token too long in file header: 0000000000\uFFFD",
    };

    // Files over Pillow's 1 MiB read block are committed gzipped.
    private static byte[] Inflate(string path)
    {
        using var gzip = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
        using var bytes = new MemoryStream();
        gzip.CopyTo(bytes);
        return bytes.ToArray();
    }

    // Pillow's words without the exception type, the bytes repr around a message raised as bytes, or the details it
    // appends ("(5 bytes not processed)", the stream's repr): our problem starts with them.
    private static string PillowReason(string reason)
    {
        string words = reason[(reason.IndexOf(": ", StringComparison.Ordinal) + 2)..];
        if (words.StartsWith("b'", StringComparison.Ordinal) || words.StartsWith("b\"", StringComparison.Ordinal))
        {
            words = words[2..^1];
        }
        foreach (string tail in new[] { " (", " <" })
        {
            int at = words.IndexOf(tail, StringComparison.Ordinal);
            words = at < 0 ? words : words[..at];
        }
        return words;
    }

    public static TheoryData<string> Cases() => [.. Verdicts.Value.Keys.Order(StringComparer.Ordinal)];

    [Theory]
    [MemberData(nameof(Cases))]
    public void Each_file_gets_pillows_verdict_and_pixels(string file)
    {
        JsonElement verdict = Verdicts.Value[file];
        string path = Path.Combine(Folder, file);
        ImageInput input = file.EndsWith(".gz", StringComparison.Ordinal) ? ImageInput.FromBytes(Inflate(path), path) : ImageInput.FromFile(path);
        if (PillowCorpus.AssertVerdict(verdict, input, path) is ImageDecodeException refusal)
        {
            if (Problems.TryGetValue(file, out string? problem))
            {
                Assert.Equal(problem, refusal.Problem);
            }
            if (verdict.TryGetProperty("known_difference", out _))
            {
                return;
            }
            string pillow = verdict.GetProperty("reason").GetString()!;
            string reason = PillowReason(pillow);
            const string bomb = "DecompressionBombError: Image size (";
            if (pillow.StartsWith(bomb, StringComparison.Ordinal))
            {
                // Pillow's limit is its own; ours is PreprocessingOptions.MaxPixels, but the pixel count is the same.
                string count = pillow[bomb.Length..pillow.IndexOf(' ', bomb.Length)];
                Assert.Contains($" = {decimal.Parse(count, CultureInfo.InvariantCulture):N0} pixels exceeds the limit of {Limit:N0} ", refusal.Problem, StringComparison.Ordinal);
                return;
            }
            // A file no reader claims (P7) gets the library's general "not an image" message.
            Assert.True(refusal.Problem.StartsWith(reason, StringComparison.Ordinal)
                || (reason == "cannot identify image file" && refusal.Problem.StartsWith("not an image", StringComparison.Ordinal)),
                $"Pillow: {reason}; ours: {refusal.Problem}");
        }
        else
        {
            Assert.False(Problems.ContainsKey(file), "a file with our words for a refusal is accepted");
        }
    }

    [Fact]
    public void Every_listed_problem_names_a_case() => Assert.Empty(Problems.Keys.Except(Verdicts.Value.Keys));

    [Fact]
    public void Pillow_claims_P1_to_P6_from_two_bytes()
    {
        foreach (string magic in new[] { "P1", "P2", "P3", "P4", "P5", "P6" })
        {
            Assert.True(PillowPnm.Handles(System.Text.Encoding.ASCII.GetBytes(magic)), magic);
        }
        foreach (string other in new[] { "P", "P0", "P7", "Q5", "p5", "" })
        {
            Assert.False(PillowPnm.Handles(System.Text.Encoding.ASCII.GetBytes(other)), other);
        }
    }

    [Fact]
    public void The_size_is_held_to_the_pixel_limit_before_decoding()
    {
        byte[] file = File.ReadAllBytes(Path.Combine(Folder, "p6-255.pnm"));
        // 5 x 3 = 15 pixels: 15 is allowed, 14 is not.
        PillowPnm.Decode(file, "p6", 15).Release();
        Assert.Equal("5x3 = 15 pixels exceeds the limit of 14 (a possible decompression bomb; raise PreprocessingOptions.MaxPixels to allow it)",
            Assert.Throws<ImageDecodeException>(() => PillowPnm.Decode(file, "p6", 14)).Problem);
    }

    [Theory]
    [InlineData("P5 2147483648 1 255 ", "2147483648x1")]
    [InlineData("P6 1 2147483648 255 ", "1x2147483648")]
    [InlineData("P4 2147483648 2147483648 ", "2147483648x2147483648")]
    public void Without_a_pixel_limit_a_size_past_int_max_is_refused(string header, string size)
    {
        // Pillow without its bomb check overflows a C int on these sizes.
        var refusal = Assert.Throws<ImageDecodeException>(() => PillowPnm.Decode(System.Text.Encoding.ASCII.GetBytes(header), "huge", long.MaxValue));
        Assert.Equal($"signed integer is greater than maximum: the image claims {size} pixels", refusal.Problem);
    }
}
