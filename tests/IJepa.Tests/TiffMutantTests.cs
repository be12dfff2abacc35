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
/// the end, StripByteCounts missing/zero/short, BitsPerSample counts, ExtraSamples, SampleFormat, header damage,
/// tags of every integer type and BYTE-typed tags Pillow keeps as bytes, tags of other types and negative values,
/// tags given twice, directories cut by a value past the end of the file, FillOrder 2, and LZW/Deflate/PackBits strips
/// good, cut, padded and past the end of the file), each given Pillow 9.4's verdict and RGB pixels; which files
/// <see cref="PillowTiffRaw"/> takes itself; the exact refusal messages of <see cref="PillowTiffRaw"/> and
/// <see cref="TiffStripGuard"/>; and <see cref="BoundedAllocator"/>'s budget arithmetic, refusal, and release of what
/// its owners hold.
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
    // Two offsets for the one strip, both cut short: Pillow reads only the later (offset 132, 2 bytes left).
    [InlineData("l-dup-both-short.tif", "image file is truncated: the TIFF strip at offset 132 has 2 of its 15 bytes")]
    [InlineData("l-width-intmax.tif", "2147483647x3 = 6,442,450,941 pixels exceeds the limit of 268,435,456 (a possible decompression bomb; raise PreprocessingOptions.MaxPixels to allow it)")]
    [InlineData("l-height-intmax.tif", "5x2147483647 = 10,737,418,235 pixels exceeds the limit of 268,435,456 (a possible decompression bomb; raise PreprocessingOptions.MaxPixels to allow it)")]
    // Directories Pillow stops reading early (ImageSharp reads on): what it then lacks is refused by the raw reader.
    [InlineData("l-cut-before-width.tif", "cannot identify image file (the TIFF has no ImageWidth: Pillow stops reading the directory at tag 254, whose value lies past the end of the file)")]
    [InlineData("l-cut-after-width.tif", "cannot identify image file (the TIFF has no ImageLength: Pillow stops reading the directory at tag 270, whose value lies past the end of the file)")]
    [InlineData("l-cut-before-offsets.tif", "cannot identify image file (the uncompressed TIFF has no StripOffsets: Pillow stops reading the directory at tag 270, whose value lies past the end of the file)")]
    [InlineData("ifd-in-header.tif", "cannot identify image file (the TIFF has no ImageWidth: Pillow stops reading the directory where its entries run past the end of the file)")]
    [InlineData("ifd-at-end.tif", "cannot identify image file (the TIFF has no ImageWidth: Pillow stops reading the directory where its entries run past the end of the file)")]
    [InlineData("l-fill3.tif", "cannot identify image file (unknown pixel mode: the TIFF's FillOrder is 3)")]
    [InlineData("li-fill2.tif", "unknown raw mode for given image mode (TIFF raw mode L;IR: Photometric 0 with FillOrder 2)")]
    public void Raw_reader_refusals_name_the_problem(string file, string problem) =>
        Assert.Equal(problem, PillowCorpus.Refusal(Folder, file));

    // Messages TiffStripGuard and the raw reader's BYTE-tag check word themselves (Pillow says only "-2", "image file
    // is truncated" or "cannot identify"); the numbers follow from the files' layout and, for the codecs, how far
    // the data decodes (checked against an independent Python LZW/PackBits decoder and zlib).
    [Theory]
    [MemberData(nameof(GuardMessages))]
    public void Strip_guard_refusals_name_the_problem(string file, string problem) =>
        Assert.Equal(problem, PillowCorpus.Refusal(Folder, file));

    // Files Pillow reads whose pixels ImageSharp gets wrong (known differences, skipped above): libtiff decodes their
    // strips, so the guard must still let them through.
    [Theory]
    [InlineData("deflate-count-zero.tif")]
    [InlineData("packbits-count-zero.tif")]
    [InlineData("packbits-two-offsets.tif")]
    [InlineData("packbits-exact-then-more.tif")]
    [InlineData("packbits-literal-long.tif")]
    [InlineData("packbits-replicate-long.tif")]
    [InlineData("packbits-garbage.tif")]
    [InlineData("lzw-old-style.tif")]
    [InlineData("lzw-rgb-bps1-ok.tif")]
    [InlineData("deflate-rgb-bps1-ok.tif")]
    [InlineData("lzw-codes-12-bit-ok.tif")]
    public void Strip_guard_lets_through_what_libtiff_decodes(string file)
    {
        Assert.Equal("accept", Verdicts.Value[file].GetProperty("pillow").GetString());
        TiffStripGuard.Check(File.ReadAllBytes(Path.Combine(Folder, file)), file);
    }

    public static TheoryData<string, string> GuardMessages() => new()
    {
        { "lzw-big-cut.tif", "broken data stream when reading image file (TIFF strip 0: LZW data ends after 2,510 of 4,096 bytes)" },
        { "lzw-cut.tif", "broken data stream when reading image file (TIFF strip 0: LZW data ends after 7 of 15 bytes)" },
        { "lzw-codes-clear-end.tif", "broken data stream when reading image file (TIFF strip 0: LZW data ends after 0 of 3 bytes)" },
        { "lzw-codes-clear-end-after-clear.tif", "broken data stream when reading image file (TIFF strip 0: LZW data ends after 1 of 3 bytes)" },
        { "lzw-codes-short-then-end.tif", "broken data stream when reading image file (TIFF strip 0: LZW data ends after 2 of 3 bytes)" },
        { "lzw-codes-clear-then-table-code.tif", "broken data stream when reading image file (TIFF strip 0: corrupted LZW table)" },
        { "lzw-codes-code-past-table.tif", "broken data stream when reading image file (TIFF strip 0: using code not yet in table)" },
        { "lzw-codes-no-clear.tif", "broken data stream when reading image file (TIFF strip 0: corrupted LZW table (no clear code first))" },
        { "lzw-two-offsets.tif", "broken data stream when reading image file (TIFF strip 2: corrupted LZW table (no clear code first))" },
        { "lzw-rps1-zero-count.tif", "broken data stream when reading image file (TIFF strip 1 (0 bytes at 16) lies outside the 170-byte file)" },
        { "lzw-past-eof.tif", "broken data stream when reading image file (TIFF strip 0 (21 bytes at 122) lies outside the 142-byte file)" },
        { "lzw-offset-past-eof.tif", "broken data stream when reading image file (TIFF strip 0 (20 bytes at 100,000) lies outside the 142-byte file)" },
        { "deflate-cut.tif", "broken data stream when reading image file (TIFF strip 0: Deflate data ends after 8 of 15 bytes)" },
        { "deflate-fewer.tif", "broken data stream when reading image file (TIFF strip 0: Deflate data ends after 10 of 15 bytes)" },
        { "deflate-raw.tif", "broken data stream when reading image file (TIFF strip 0: Deflate decoding error (The archive entry was compressed using an unsupported compression method.))" },
        { "deflate-two-counts.tif", "broken data stream when reading image file (TIFF strip 2 (0 bytes at 40) lies outside the 190-byte file)" },
        { "deflate-old-past-eof.tif", "broken data stream when reading image file (TIFF strip 0 (24 bytes at 122) lies outside the 145-byte file)" },
        { "deflate-count-past-end.tif", "broken data stream when reading image file (TIFF strip 0 (524 bytes at 8) lies outside the 146-byte file)" },
        { "packbits-cut.tif", "broken data stream when reading image file (TIFF strip 0: PackBits data ends after 7 of 15 bytes)" },
        { "packbits-literal-cut.tif", "broken data stream when reading image file (TIFF strip 0: PackBits data ends after 10 of 15 bytes)" },
        { "packbits-replicate-no-byte.tif", "broken data stream when reading image file (TIFF strip 0: PackBits data ends after 14 of 15 bytes)" },
        { "packbits-zeros.tif", "broken data stream when reading image file (TIFF strip 0: PackBits data ends after 7 of 15 bytes)" },
        { "packbits-bw-short.tif", "broken data stream when reading image file (TIFF strip 0: PackBits data ends after 2 of 3 bytes)" },
        { "packbits-two-counts.tif", "broken data stream when reading image file (TIFF strip 2 (0 bytes at 20) lies outside the 160-byte file)" },
        { "packbits-offset-past-eof.tif", "broken data stream when reading image file (TIFF strip 0 (18 bytes at 100,000) lies outside the 140-byte file)" },
        { "bw-rps2-last-past-end.tif", "image file is truncated: a TIFF strip needs 1 bytes at byte 149 of a 146-byte file" },
        { "bw-strip-after-eof.tif", "image file is truncated: a TIFF strip needs 1 bytes at byte 150 of a 150-byte file" },
        { "bw-strip-past-end.tif", "image file is truncated: a TIFF strip needs 1 bytes at byte 5,000 of a 150-byte file" },
        { "bw-wrap.tif", "image file is truncated: a TIFF strip needs 1 bytes at byte 5,000 of a 154-byte file" },
        { "l-compression1-byte.tif", "cannot identify image file (TIFF tag 259 is BYTE-typed, which Pillow keeps as bytes)" },
        { "l-width-byte.tif", "invalid literal for int() with base 10 (TIFF tag 256 holds the bytes 05)" },
        { "l-width-ascii-nul.tif", "invalid literal for int() with base 10 (TIFF tag 256 holds the bytes 3500)" },
        { "l-width-ascii-huge.tif", "the TIFF claims 99999999999x3 pixels" },
        { "l-width-ascii-minus.tif", "the image claims -5x3 pixels" },
        { "l-sf-byte.tif", "cannot identify image file (TIFF tag 339 is BYTE-typed, which Pillow keeps as bytes)" },
        { "l-rps-byte.tif", "cannot identify image file (TIFF tag 278 is BYTE-typed, which Pillow keeps as bytes)" },
        { "l-height-byte.tif", "invalid literal for int() with base 10 (TIFF tag 257 holds the bytes 03)" },
        { "l-width-ascii-blanks.tif", "invalid literal for int() with base 10 (TIFF tag 256 holds the bytes 2009)" },
        // The last Compression entry (RATIONAL 1/1, which Pillow reads as 1) counts, not the LZW one before it.
        { "l-rps-byte-compression-lzw-then-rational.tif", "cannot identify image file (TIFF tag 278 is BYTE-typed, which Pillow keeps as bytes)" },
        // Big-endian directories, read as such (the same strips as the little-endian "-cut" files).
        { "lzw-mm-cut.tif", "broken data stream when reading image file (TIFF strip 0: LZW data ends after 7 of 15 bytes)" },
        { "deflate-mm-cut.tif", "broken data stream when reading image file (TIFF strip 0: Deflate data ends after 8 of 15 bytes)" },
        { "deflate-old-mm-cut.tif", "broken data stream when reading image file (TIFF strip 0: Deflate data ends after 8 of 15 bytes)" },
        { "packbits-mm-cut.tif", "broken data stream when reading image file (TIFF strip 0: PackBits data ends after 7 of 15 bytes)" },
        // One BitsPerSample value for three samples is 24 bits a pixel: 45 bytes, of which half the data gives about 22.
        { "lzw-rgb-bps1-cut.tif", "broken data stream when reading image file (TIFF strip 0: LZW data ends after 22 of 45 bytes)" },
        { "deflate-rgb-bps1-cut.tif", "broken data stream when reading image file (TIFF strip 0: Deflate data ends after 21 of 45 bytes)" },
        { "deflate-old-rgb-bps1-cut.tif", "broken data stream when reading image file (TIFF strip 0: Deflate data ends after 21 of 45 bytes)" },
        { "packbits-rgb-bps1-cut.tif", "broken data stream when reading image file (TIFF strip 0: PackBits data ends after 22 of 45 bytes)" },
        // Two Clear codes in a row are one (libtiff 4.5), a leading 0 byte is not old-style LZW when the next byte's
        // low bit is 0, the last code is read when exactly its bits are left, and table entry 5,119 is one too many.
        { "lzw-codes-clear-clear-short.tif", "broken data stream when reading image file (TIFF strip 0: LZW data ends after 2 of 3 bytes)" },
        { "lzw-codes-clear-clear-table-code.tif", "broken data stream when reading image file (TIFF strip 0: corrupted LZW table)" },
        { "lzw-codes-zero-first.tif", "broken data stream when reading image file (TIFF strip 0: corrupted LZW table (no clear code first))" },
        { "lzw-codes-exact-fill-short.tif", "broken data stream when reading image file (TIFF strip 0: LZW data ends after 7 of 8 bytes)" },
        { "lzw-codes-table-full.tif", "broken data stream when reading image file (TIFF strip 0: using code not yet in table)" },
        // No-op headers (-128) are skipped, and a replicate run's byte is not read as the next header.
        { "packbits-noop-cut.tif", "broken data stream when reading image file (TIFF strip 0: PackBits data ends after 5 of 15 bytes)" },
        { "packbits-replicate-cut.tif", "broken data stream when reading image file (TIFF strip 0: PackBits data ends after 4 of 15 bytes)" },
        // A directory ending exactly at the end of the file (no next-IFD offset) is still read.
        { "lzw-dir-at-eof-cut.tif", "broken data stream when reading image file (TIFF strip 0: LZW data ends after 7 of 15 bytes)" },
    };

    // Directories the guard does not model (Pillow and ImageSharp refuse or read them on their own terms): the guard
    // must leave them alone rather than fail with an exception of its own or a strip verdict it has no grounds for.
    [Theory]
    [InlineData("lzw-ifd-past-eof.tif")]
    [InlineData("lzw-dir-past-eof.tif")]
    [InlineData("lzw-ifd-last-cut.tif")]
    [InlineData("lzw-rps-count0.tif")]
    [InlineData("lzw-rps0.tif")]
    [InlineData("lzw-rgb-no-bps.tif")]
    [InlineData("lzw-width0-offset-past-eof.tif")]
    [InlineData("lzw-bps0-offset-past-eof.tif")]
    [InlineData("lzw-planar2-ok.tif")]
    [InlineData("lzw-old-style-short.tif")] // old-style LZW is ImageSharp's to refuse, however short
    [InlineData("ifd-zero.tif")]
    [InlineData("ifd-past-end.tif")]
    public void Strip_guard_leaves_directories_it_does_not_model_alone(string file) =>
        TiffStripGuard.Check(File.ReadAllBytes(Path.Combine(Folder, file)), file);

    [Theory]
    [InlineData("II*\0", true)]
    [InlineData("MM\0*", true)]
    [InlineData("II*", false)] // too short to tell
    [InlineData("II+\0", false)] // BigTIFF
    [InlineData("MM\0+", false)]
    [InlineData("IIx\0", false)]
    [InlineData("II*\u0001", false)]
    [InlineData("AB*\0", false)]
    [InlineData("IA*\0", false)]
    [InlineData("AI*\0", false)]
    [InlineData("MMx*", false)]
    [InlineData("MM\0x", false)]
    [InlineData("AB\0*", false)]
    [InlineData("MA\0*", false)]
    [InlineData("AM\0*", false)]
    [InlineData("GIF8", false)]
    public void The_guard_takes_classic_tiff_signatures_only(string head, bool handles) =>
        Assert.Equal(handles, TiffStripGuard.Handles(head.Select(c => (byte)c).ToArray()));

    // 1 << 20 values is the most a tag may hold for the guard to read it: a StripByteCounts that long is read, so the
    // cut LZW strip is refused; one value more and the tag is ignored (the file is then left to the decoders).
    [Theory]
    [InlineData(1 << 20, true)]
    [InlineData((1 << 20) + 1, false)]
    public void Tags_of_up_to_a_million_values_are_read(int countValues, bool refused)
    {
        byte[] cut = File.ReadAllBytes(Path.Combine(Folder, "lzw-cut.tif"));
        byte[] file = WithStripByteCounts(cut, countValues);
        var check = () => TiffStripGuard.Check(file, "long-counts.tif");
        if (refused)
        {
            Assert.Equal("broken data stream when reading image file (TIFF strip 0: LZW data ends after 7 of 15 bytes)", Assert.Throws<ImageDecodeException>(check).Problem);
        }
        else
        {
            check();
        }
    }

    /// <summary>The little-endian file with its StripByteCounts (279) replaced by <paramref name="n"/> LONG values, the first
    /// the old count, the rest 0, appended after the file.</summary>
    private static byte[] WithStripByteCounts(byte[] file, int n)
    {
        int entry = Entry(file, 279);
        Assert.Equal(1u, BitConverter.ToUInt32(file, entry + 4));
        byte[] grown = new byte[file.Length + (4L * n)];
        file.CopyTo(grown, 0);
        BitConverter.TryWriteBytes(grown.AsSpan(entry + 4), (uint)n);
        BitConverter.TryWriteBytes(grown.AsSpan(entry + 8), (uint)file.Length);
        BitConverter.TryWriteBytes(grown.AsSpan(file.Length), BitConverter.ToUInt32(file, entry + 8));
        return grown;
    }

    /// <summary>Where the little-endian file's first directory holds the entry of <paramref name="tag"/>.</summary>
    private static int Entry(byte[] file, ushort tag)
    {
        int ifd = BitConverter.ToInt32(file, 4), entries = BitConverter.ToUInt16(file, ifd);
        for (int i = 0; i < entries; i++)
        {
            int entry = ifd + 2 + (12 * i);
            if (BitConverter.ToUInt16(file, entry) == tag)
            {
                return entry;
            }
        }
        throw new InvalidOperationException($"no tag {tag}");
    }

    // Whether the raw reader takes a file itself (then with Pillow's pixels) or leaves it to ImageSharp; the corpus
    // theory above checks what the whole loader makes of each, and a file left to ImageSharp may well come out the same.
    [Theory]
    [InlineData("ifd-zero.tif", false)]
    [InlineData("bad-magic.tif", false)] // II+\0, BigTIFF
    [InlineData("l-header-im.tif", false)]
    [InlineData("l-header-mi.tif", false)]
    [InlineData("rgb-sf2.tif", false)]
    [InlineData("l-extra0.tif", false)]
    // Types it does not interpret and negative values; Compression RATIONAL 1/1 would decode if merely ignored.
    [InlineData("l-compression-rational.tif", false)]
    [InlineData("l-orient-sshort-minus1.tif", false)]
    [InlineData("l-orient-ascii-long.tif", false)]
    // BYTE-typed Orientation 3 and PlanarConfiguration 2: Pillow matches neither against its integers.
    [InlineData("l-orient3-byte.tif", true)]
    [InlineData("rgb-planar2-byte.tif", true)]
    [InlineData("l-width-rational-then-short.tif", true)]
    // Tags after a value past the end of the file are not Pillow's: PlanarConfiguration 2 there is never seen.
    [InlineData("l-cut-after-all.tif", true)]
    [InlineData("rgb-cut-before-planar2.tif", true)]
    [InlineData("l-fill2.tif", true)]
    [InlineData("rgb-fill2.tif", true)]
    [InlineData("l-fill2-mm.tif", true)]
    public void The_raw_reader_takes_only_what_pillow_reads_raw(string file, bool takes)
    {
        JsonElement verdict = Verdicts.Value[file];
        Assert.Equal(takes, PillowTiffRaw.TryDecode(File.ReadAllBytes(Path.Combine(Folder, file)), file, 1L << 28, out RgbImage? image));
        if (!takes)
        {
            Assert.Null(image);
            return;
        }
        Assert.Equal("accept", verdict.GetProperty("pillow").GetString());
        Assert.Equal(Convert.ToHexString(PillowCorpus.Pixels(verdict)), Convert.ToHexString(image!.Data));
        image.Release();
    }

    // 1 << 24 values is the most the raw reader reads in a tag (a long each): a BitsPerSample that long (8, 8, ...) is
    // read and cut to the one sample; one value more and the file is left to ImageSharp. Pillow 9.4 reads both files
    // with l-rps3.tif's pixels (checked by hand: at 32 MiB they are built here, not kept in the corpus), and so does
    // ImageSharp the second.
    [Theory]
    [InlineData(1 << 24, true)]
    [InlineData((1 << 24) + 1, false)]
    public void Tags_of_up_to_16_million_values_are_read_raw(int countValues, bool takes)
    {
        byte[] file = WithBitsPerSample(File.ReadAllBytes(Path.Combine(Folder, "l-rps3.tif")), countValues);
        string pixels = Convert.ToHexString(PillowCorpus.Pixels(Verdicts.Value["l-rps3.tif"]));
        Assert.Equal(takes, PillowTiffRaw.TryDecode(file, "long-bps.tif", 1L << 28, out RgbImage? image));
        RgbImage decoded = image ?? ImageInput.FromBytes(file, "long-bps.tif").Decode(1L << 28);
        Assert.Equal(pixels, Convert.ToHexString(decoded.Data));
        decoded.Release();
    }

    /// <summary>The little-endian file with its BitsPerSample (258) replaced by <paramref name="n"/> SHORT values of 8,
    /// appended after the file.</summary>
    private static byte[] WithBitsPerSample(byte[] file, int n)
    {
        int entry = Entry(file, 258);
        byte[] grown = new byte[file.Length + (2L * n)];
        file.CopyTo(grown, 0);
        BitConverter.TryWriteBytes(grown.AsSpan(entry + 2), (ushort)3);
        BitConverter.TryWriteBytes(grown.AsSpan(entry + 4), (uint)n);
        BitConverter.TryWriteBytes(grown.AsSpan(entry + 8), (uint)file.Length);
        for (long k = file.Length; k < grown.Length; k += 2)
        {
            grown[k] = 8;
        }
        return grown;
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
