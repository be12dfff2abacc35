using System.Text.Json;
using IJepa.Preprocessing;

namespace IJepa.Tests;

/// <summary>
/// Kills the mutants that Stryker's run over PngStreamGuard and PngInterlaceGuard left alive or never reached. The
/// damaged-file corpus cuts and flips real PNGs at random places, so tests/reference/png/generate_png.py crafts one
/// small file per path through the guards (chunks cut at each field, chunk types at the edges of Pillow's check, CRCs
/// before and after the image data, IHDR fields, short palettes, zlib streams that end early or late or break, filter
/// types 4 and 5, chunks after the image data, eXIf chunks that turn the image) and records Pillow 9.4's verdict and
/// RGB pixels. Where Pillow accepts a file we must decode the same pixels; where it refuses we must refuse with the
/// message that says why, compared exactly.
/// </summary>
public class PngMutantTests
{
    private static string Folder => Path.Combine(AppContext.BaseDirectory, "png");

    private static readonly Lazy<Dictionary<string, JsonElement>> Verdicts = new(() => PillowCorpus.Load(Folder));

    private static readonly (int X, int Y, int Dx, int Dy)[] Adam7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)];

    public static TheoryData<string> Cases() => [.. Verdicts.Value.Keys.Order(StringComparer.Ordinal)];

    public static TheoryData<string> InterlacedCases() =>
        [.. Verdicts.Value.Keys.Where(f => IsInterlaced(File.ReadAllBytes(Path.Combine(Folder, f)))).Order(StringComparer.Ordinal)];

    private static bool IsInterlaced(byte[] file) => file.Length >= 33 && file.AsSpan(12, 4).SequenceEqual("IHDR"u8) && file[28] == 1;

    private static string Refusal(string file) => PillowCorpus.Refusal(Folder, file);

    [Theory]
    [InlineData("adam7-1x1.png")]
    [InlineData("adam7-2x1.png")]
    [InlineData("adam7-1x2.png")]
    [InlineData("adam7-3x3.png")]
    [InlineData("adam7-4x5.png")]
    [InlineData("adam7-1x7.png")]
    [InlineData("adam7-1x1-d1.png")]
    [InlineData("adam7-3x9-d2.png")]
    [InlineData("adam7-4x17-rgba16.png")]
    [InlineData("adam7-2x11-la8.png")]
    [InlineData("adam7-4x9-p4.png")]
    [InlineData("adam7-4x9-short.png")]
    [InlineData("adam7-3x5-exif6-after.png")]
    public async Task A_narrow_interlaced_png_gets_pillows_pixels_without_hanging(string file)
    {
        // ImageSharp 2.1 hangs on some of these valid files and misreads others; the guard de-interlaces them.
        Assert.False(Verdicts.Value[file].TryGetProperty("known_difference", out _));
        string path = Path.Combine(Folder, file);
        await Task.Run(() => PillowCorpus.AssertVerdict(Verdicts.Value[file], ImageInput.FromFile(path), path)).WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Each_file_gets_pillows_verdict_and_pixels(string file)
    {
        JsonElement verdict = Verdicts.Value[file];
        if (verdict.TryGetProperty("known_difference", out _))
        {
            return; // ImageSharp's own faults on valid files (see generate_png.py); some of them hang
        }
        string path = Path.Combine(Folder, file);
        // A guard that loops (as ImageSharp does on short interlaced data) fails here rather than hanging the run.
        await Task.Run(() => PillowCorpus.AssertVerdict(verdict, ImageInput.FromFile(path), path)).WaitAsync(TimeSpan.FromSeconds(10));
    }

    // Pillow's reasons (verdicts.json) in our words, with the detail ours add: the chunk, the filter type, the sizes.
    [Theory]
    [InlineData("sig-only.png", "cannot identify image file: broken PNG file (the chunks end before the image data)")]
    [InlineData("ihdr-only.png", "cannot identify image file: broken PNG file (the chunks end before the image data)")]
    [InlineData("ihdr-then-7.png", "cannot identify image file: broken PNG file (the chunks end before the image data)")]
    [InlineData("text-whole-then-end.png", "cannot identify image file: broken PNG file (the chunks end before the image data)")]
    [InlineData("type-bad-at.png", "cannot identify image file: broken PNG file (chunk type 70724076)")]
    [InlineData("type-bad-backtick.png", "cannot identify image file: broken PNG file (chunk type 70726076)")]
    [InlineData("type-bad-brace.png", "cannot identify image file: broken PNG file (chunk type 70727B76)")]
    [InlineData("type-bad-bracket.png", "cannot identify image file: broken PNG file (chunk type 70725B76)")]
    [InlineData("type-bad-colon.png", "cannot identify image file: broken PNG file (chunk type 70723A76)")]
    [InlineData("type-bad-slash.png", "cannot identify image file: broken PNG file (chunk type 70722F76)")]
    [InlineData("type-bad-first.png", "cannot identify image file: broken PNG file (chunk type 40727654)")]
    [InlineData("text-cut5.png", "Truncated File Read: PNG chunk tEXt is cut short")]
    [InlineData("text-cut12.png", "Truncated File Read: PNG chunk tEXt is cut short")]
    [InlineData("text-huge-length.png", "Truncated File Read: PNG chunk tEXt is cut short")]
    [InlineData("text-length-2g.png", "Truncated File Read: PNG chunk tEXt is cut short")]
    [InlineData("text-cut1.png", "broken PNG file (incomplete checksum in tEXt)")]
    [InlineData("text-cut4.png", "broken PNG file (incomplete checksum in tEXt)")]
    [InlineData("ihdr-cut12.png", "broken PNG file (incomplete checksum in IHDR)")]
    [InlineData("crc-ihdr.png", "broken PNG file (bad header checksum in IHDR)")]
    [InlineData("crc-plte.png", "broken PNG file (bad header checksum in PLTE)")]
    [InlineData("crc-text.png", "broken PNG file (bad header checksum in tEXt)")]
    [InlineData("crc-private.png", "broken PNG file (bad header checksum in prVt)")]
    [InlineData("crc-high-byte.png", "broken PNG file (bad header checksum in tEXt)")]
    [InlineData("ihdr-len12.png", "Truncated IHDR chunk (12 bytes)")]
    [InlineData("ihdr-w2g.png", "2147483647x1 = 2,147,483,647 pixels exceeds the limit of 268,435,456 (a possible decompression bomb; raise PreprocessingOptions.MaxPixels to allow it)")]
    [InlineData("ihdr-w4g.png", "2147483647x1 = 2,147,483,647 pixels exceeds the limit of 268,435,456 (a possible decompression bomb; raise PreprocessingOptions.MaxPixels to allow it)")]
    [InlineData("p8-plte257.png", "invalid palette size (257 PLTE entries)")]
    [InlineData("ihdr-then-idat-header.png", "image file is truncated: the PNG's image data ends before its last row")]
    [InlineData("rgb-short1.png", "image file is truncated: the PNG's image data ends before its last row")]
    [InlineData("rgb-first-row-and-1.png", "image file is truncated: the PNG's image data ends before its last row")]
    [InlineData("rgb-empty-stream.png", "image file is truncated: the PNG's image data ends before its last row")]
    [InlineData("adam7-short1.png", "image file is truncated: the PNG's image data ends before its last row")]
    [InlineData("g1-adam7-first-row-and-1.png", "image file is truncated: the PNG's image data ends before its last row")]
    [InlineData("g1-cut-in-data.png", "image file is truncated: the PNG's image data ends before its last row")]
    [InlineData("idat-split-by-text-half.png", "image file is truncated: the PNG's image data ends before its last row")]
    [InlineData("rgb-last-filter5.png", "unrecognized data stream contents when reading image file (PNG filter type 5)")]
    [InlineData("adam7-last-filter5.png", "unrecognized data stream contents when reading image file (PNG filter type 5)")]
    [InlineData("g1-first-filter255.png", "unrecognized data stream contents when reading image file (PNG filter type 255)")]
    [InlineData("ihdr-interlace2-plain-data.png", "unrecognized data stream contents when reading image file (PNG filter type 135)")]
    [InlineData("after-text-cut.png", "Truncated File Read: PNG chunk tEXt after the image data is cut short")]
    [InlineData("after-private-cut.png", "Truncated File Read: PNG chunk prVt after the image data is cut short")]
    [InlineData("after-header-8.png", "Truncated File Read: PNG chunk tEXt after the image data is cut short")]
    [InlineData("after-header-11.png", "Truncated File Read: PNG chunk tEXt after the image data is cut short")]
    [InlineData("idat-then-extra-idat-cut.png", "Truncated File Read: PNG chunk IDAT after the image data is cut short")]
    [InlineData("after-text-then-text-cut.png", "Truncated File Read: PNG chunk tEXt after the image data is cut short")]
    public void A_refused_file_says_why(string file, string problem) => Assert.Equal(problem, Refusal(file));

    [Theory]
    [InlineData("rgb-bad-adler.png")]
    [InlineData("rgb-bad-block.png")]
    [InlineData("adam7-bad-zlib-header.png")]
    [InlineData("g1-adam7-bad-adler.png")]
    public void A_broken_zlib_stream_is_named_as_such(string file) =>
        Assert.StartsWith("broken data stream when reading image file (the PNG's zlib data: ", Refusal(file), StringComparison.Ordinal);

    [Fact]
    public void Only_the_png_signature_is_checked()
    {
        byte[] signature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];
        Assert.True(PngStreamGuard.Handles(signature));
        Assert.False(PngStreamGuard.Handles(signature.AsSpan(0, 7)));
        for (int i = 0; i < signature.Length; i++)
        {
            byte[] other = [.. signature];
            other[i] ^= 0x20;
            Assert.False(PngStreamGuard.Handles(other));
            // Not a PNG: handed back as it is, for another reader to judge.
            Assert.Same(other, PngStreamGuard.Check(other, "test", 1 << 20));
        }
        byte[] short7 = signature[..7];
        Assert.Same(short7, PngStreamGuard.Check(short7, "test", 1 << 20));
    }

    [Fact]
    public void A_png_is_held_to_the_pixel_limit_before_its_data_is_inflated()
    {
        byte[] file = File.ReadAllBytes(Path.Combine(Folder, "c2-d8.png"));
        var refusal = Assert.Throws<ImageDecodeException>(() => PngStreamGuard.Check(file, "test", 14));
        Assert.Equal("5x3 = 15 pixels exceeds the limit of 14 (a possible decompression bomb; raise PreprocessingOptions.MaxPixels to allow it)", refusal.Problem);
        Assert.Same(file, PngStreamGuard.Check(file, "test", 15));
    }

    [Theory]
    [InlineData("c2-d8.png", true)]
    [InlineData("adam7-9x9.png", true)]
    [InlineData("p8-plte256.png", true)]
    [InlineData("idat-crc.png", false)]
    [InlineData("p8-plte3.png", false)]
    [InlineData("rgb-no-iend.png", false)]
    [InlineData("exif6-after.png", false)]
    [InlineData("rgb-extra-64k.png", true)]
    [InlineData("rgb-extra-64k-and-1.png", false)]
    [InlineData("rgb-bad-adler-later-idat.png", false)]
    public void A_file_imagesharp_reads_as_pillow_does_is_not_copied(string file, bool same)
    {
        // The loader wraps a new stream only around a changed file; a clean one must come back as it is.
        byte[] bytes = File.ReadAllBytes(Path.Combine(Folder, file));
        Assert.Equal(same, ReferenceEquals(bytes, PngStreamGuard.Check(bytes, "test", 1 << 20)));
    }

    [Theory]
    [InlineData("ihdr-colour5.png")]
    [InlineData("ihdr-depth3.png")]
    [InlineData("iend-before-idat.png")]
    public void A_file_pillow_cannot_identify_or_load_is_left_to_imagesharp_unread(string file)
    {
        // Pillow refuses these before it reads any image data, and so does ImageSharp; the guard must not read the
        // data as if the header were good (it would call it truncated or broken, or rebuild it).
        Assert.Equal("refuse", Verdicts.Value[file].GetProperty("pillow").GetString());
        byte[] bytes = File.ReadAllBytes(Path.Combine(Folder, file));
        Assert.Same(bytes, PngStreamGuard.Check(bytes, "test", 1 << 20));
    }

    public static TheoryData<string> AcceptedCases() =>
        [.. Verdicts.Value.Where(c => c.Value.GetProperty("pillow").GetString() == "accept" && !c.Value.TryGetProperty("known_difference", out _))
            .Select(c => c.Key).Order(StringComparer.Ordinal)];

    [Theory]
    [MemberData(nameof(AcceptedCases))]
    public void A_file_the_guard_changes_is_a_clean_png(string file)
    {
        // What ImageSharp gets in place of a file it would misread: every chunk from the first IDAT on with a right
        // CRC, an IEND last, and (where the image data was rebuilt) a zlib stream of exactly the rows the header asks
        // for, followed by the chunks that came after the image data (an eXIf may move before it).
        byte[] bytes = File.ReadAllBytes(Path.Combine(Folder, file));
        byte[] checkedFile = PngStreamGuard.Check(bytes, "test", 1 << 20);
        if (ReferenceEquals(bytes, checkedFile))
        {
            return;
        }
        List<(string Type, byte[] Data, bool CrcRight)> before = Chunks(bytes), after = Chunks(checkedFile);
        int firstIdat = after.FindIndex(c => c.Type == "IDAT");
        Assert.All(after[firstIdat..], c => Assert.True(c.CrcRight, $"{c.Type} has a wrong CRC"));
        Assert.Equal("IEND", after[^1].Type);
        Assert.Empty(after[^1].Data);
        Assert.Equal(checkedFile.Length, 8 + after.Sum(c => 12 + c.Data.Length));
        byte[] data = ImageData(after, firstIdat, out int afterData);
        int originalIdat = before.FindIndex(c => c.Type is "IDAT" or "DDAT");
        int originalAfterData = before.Count; // a first IDAT cut short is the last thing in the file
        byte[] original = originalIdat < 0 ? [] : ImageData(before, originalIdat, out originalAfterData);
        if (data.AsSpan().SequenceEqual(original))
        {
            return;
        }
        using (var inflate = new System.IO.Compression.ZLibStream(new MemoryStream(data), System.IO.Compression.CompressionMode.Decompress))
        using (var rows = new MemoryStream())
        {
            inflate.CopyTo(rows);
            Assert.Equal(Expected(checkedFile), rows.Length);
        }
        static bool Kept((string Type, byte[] Data, bool CrcRight) c) => c.Type is not ("eXIf" or "IEND");
        Assert.Equal(
            before[originalAfterData..].TakeWhile(c => c.Type != "IEND" && System.Text.RegularExpressions.Regex.IsMatch(c.Type, "^[A-Za-z0-9_]{4}$")).Where(Kept).Select(c => c.Type + Convert.ToHexString(c.Data)),
            after[afterData..^1].Where(Kept).Select(c => c.Type + Convert.ToHexString(c.Data)));
    }

    /// <summary>The chunks of a PNG whose data is whole, in order (their CRC may be missing; a chunk cut short in its data ends the list).</summary>
    private static List<(string Type, byte[] Data, bool CrcRight)> Chunks(byte[] file)
    {
        var chunks = new List<(string, byte[], bool)>();
        for (long q = 8; file.Length - q >= 8;)
        {
            long length = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(file.AsSpan((int)q));
            if (length > file.Length - q - 8)
            {
                break;
            }
            byte[] typeAndData = file.AsSpan((int)q + 4, 4 + (int)length).ToArray();
            bool crcRight = file.Length - q - 8 - length >= 4
                && System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(file.AsSpan((int)(q + 8 + length))) == System.IO.Hashing.Crc32.HashToUInt32(typeAndData);
            chunks.Add((System.Text.Encoding.ASCII.GetString(typeAndData, 0, 4), typeAndData[4..], crcRight));
            q += 12 + length;
        }
        return chunks;
    }

    /// <summary>The data of the run of image data chunks that starts at <paramref name="first"/>; <paramref name="end"/> is the chunk after it.</summary>
    private static byte[] ImageData(List<(string Type, byte[] Data, bool CrcRight)> chunks, int first, out int end)
    {
        end = first;
        var data = new List<byte>();
        while (end < chunks.Count && chunks[end].Type is "IDAT" or "DDAT")
        {
            data.AddRange(chunks[end++].Data);
        }
        return [.. data];
    }

    [Theory]
    [MemberData(nameof(InterlacedCases))]
    public void The_interlace_guard_refuses_short_adam7_data_only(string file)
    {
        // Called directly, as the loader would on a file PngStreamGuard did not rebuild: after five bytes of something
        // else, which the guard must neither read nor leave the stream's position past.
        JsonElement verdict = Verdicts.Value[file];
        byte[] bytes = File.ReadAllBytes(Path.Combine(Folder, file));
        using var stream = new MemoryStream([.. "12345"u8, .. bytes]);
        stream.Position = 5;
        string? reason = verdict.TryGetProperty("reason", out JsonElement r) ? r.GetString() : null;
        if (reason is not null && reason.StartsWith("OSError: image file is truncated", StringComparison.Ordinal))
        {
            var refusal = Assert.Throws<ImageDecodeException>(() => PngInterlaceGuard.Check(stream, file));
            Assert.Equal(file, refusal.Source);
            Assert.Matches(@"^truncated interlaced PNG: [0-9,]+ of " + Expected(bytes).ToString("N0", System.Globalization.CultureInfo.CurrentCulture) + " bytes of pixel data$", refusal.Problem);
        }
        else if (reason is not null && reason.StartsWith("OSError: broken data stream", StringComparison.Ordinal) && !file.Contains("adler", StringComparison.Ordinal))
        {
            var refusal = Assert.Throws<ImageDecodeException>(() => PngInterlaceGuard.Check(stream, file));
            Assert.StartsWith("corrupt interlaced PNG data: ", refusal.Problem, StringComparison.Ordinal);
        }
        else if ((file.EndsWith("-ok.png", StringComparison.Ordinal) || file.StartsWith("adam7-", StringComparison.Ordinal)) && !file.Contains("adler", StringComparison.Ordinal) && verdict.GetProperty("pillow").GetString() == "accept" && !file.Contains("one-row-less", StringComparison.Ordinal) && !file.Contains("first-row", StringComparison.Ordinal))
        {
            PngInterlaceGuard.Check(stream, file);
        }
        Assert.Equal(5, stream.Position);
    }

    [Fact]
    public void The_interlace_guard_passes_plain_and_short_files_untouched()
    {
        foreach (string file in new[] { "c2-d8.png", "rgb-short1.png", "ihdr-only.png", "sig-only.png", "ihdr-colour5.png", "ihdr-depth3.png" })
        {
            byte[] bytes = File.ReadAllBytes(Path.Combine(Folder, file));
            using var stream = new MemoryStream([.. "12"u8, .. bytes]);
            stream.Position = 2;
            PngInterlaceGuard.Check(stream, file);
            Assert.Equal(2, stream.Position);
        }
    }

    /// <summary>The filtered bytes a header asks for: its rows, or the rows of the Adam7 passes that have pixels.</summary>
    internal static long Expected(byte[] file)
    {
        long width = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(file.AsSpan(16)), height = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(file.AsSpan(20));
        int bits = file[24] * file[25] switch { 0 => 1, 2 => 3, 3 => 1, 4 => 2, _ => 4 };
        if (file[28] == 0)
        {
            return height * (1 + (((width * bits) + 7) / 8));
        }
        long total = 0;
        foreach ((int x, int y, int dx, int dy) in Adam7)
        {
            long columns = width > x ? (width - x + dx - 1) / dx : 0, rows = height > y ? (height - y + dy - 1) / dy : 0;
            if (columns > 0 && rows > 0)
            {
                total += rows * (1 + (((columns * bits) + 7) / 8));
            }
        }
        return total;
    }
}
