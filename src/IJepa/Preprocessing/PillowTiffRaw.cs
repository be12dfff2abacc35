using System.Buffers.Binary;

namespace IJepa.Preprocessing;

/// <summary>
/// Uncompressed, striped 8-bit TIFFs (L, inverted L, RGB, RGBX, RGBA; L and RGB also bit-reversed by FillOrder 2)
/// read as Pillow 9.4 reads them: without libtiff, one raw tile per strip offset, and no use of StripByteCounts at
/// all. A strip's rows are simply read from its offset; only the end of the file can cut them short. ImageSharp
/// trusts the byte counts (a damaged count changes its pixels) and refuses an IFD cut before them, which Pillow
/// reads as far as it goes. Every other TIFF goes to ImageSharp behind <see cref="TiffStripGuard"/>, except where
/// Pillow refuses it for an unknown fill order, or for a size or strips its reading of a cut directory missed.
/// </summary>
internal static class PillowTiffRaw
{
    private const ushort ImageWidth = 256, ImageLength = 257, BitsPerSample = 258, Compression = 259, Photometric = 262,
        FillOrder = 266, StripOffsets = 273, Orientation = 274, SamplesPerPixel = 277, RowsPerStrip = 278,
        PlanarConfiguration = 284, TileOffsets = 324, ExtraSamples = 338, SampleFormat = 339;

    /// <summary>
    /// Decodes the file if it is one Pillow reads with its own raw decoder; false leaves it to ImageSharp.
    /// <paramref name="fromPath"/>: opened by its path, where Pillow memory-maps a lone L, RGBX or RGBA strip.
    /// </summary>
    public static bool TryDecode(byte[] file, string source, long maxPixels, out RgbImage? image, bool fromPath = false)
    {
        image = null;
        Ifd? ifd = ReadFirstIfd(file);
        if (ifd is null)
        {
            return false;
        }
        Dictionary<ushort, long[]> tags = ifd.Values;
        long Scalar(ushort tag, long fallback) => tags.TryGetValue(tag, out long[]? v) ? v[0] : fallback;
        long[] Tuple(ushort tag, long[] fallback) => tags.TryGetValue(tag, out long[]? v) ? v : fallback;

        // Pillow keeps a BYTE-typed tag as a bytes object, which _setup compares with integers and tuples: it refuses
        // the file whatever its other tags say, except where bytes happen to work (see PillowBytesTag).
        foreach ((ushort tag, long[] bytes) in ifd.Bytes)
        {
            PillowBytesTag(tags, tag, bytes, source);
        }
        if (ifd.Opaque)
        {
            return false;
        }
        if (ifd.Cut is string cut)
        {
            // ImageSharp reads on where Pillow stopped reading the directory, and would find tags Pillow never saw: what
            // Pillow refuses for want of them is refused here. _setup takes int() of the width and height whatever the
            // compression, and an uncompressed file needs strips.
            if (!tags.ContainsKey(ImageWidth) || !tags.ContainsKey(ImageLength))
            {
                throw new ImageDecodeException(source, $"cannot identify image file (the TIFF has no {(tags.ContainsKey(ImageWidth) ? "ImageLength" : "ImageWidth")}: Pillow stops reading the directory {cut})");
            }
            if (Scalar(Compression, 1) == 1 && !tags.ContainsKey(StripOffsets) && !tags.ContainsKey(TileOffsets))
            {
                throw new ImageDecodeException(source, $"cannot identify image file (the uncompressed TIFF has no StripOffsets: Pillow stops reading the directory {cut})");
            }
        }
        long fillOrder = Scalar(FillOrder, 1);
        if (fillOrder is not (1 or 2))
        {
            // No OPEN_INFO key has another fill order, whatever the compression; ImageSharp reads the file regardless.
            throw new ImageDecodeException(source, $"cannot identify image file (unknown pixel mode: the TIFF's FillOrder is {fillOrder})");
        }
        if (Scalar(Compression, 1) != 1 || Scalar(PlanarConfiguration, 1) != 1 || Scalar(Orientation, 1) != 1 || !tags.ContainsKey(StripOffsets)
            || tags.ContainsKey(TileOffsets) || !tags.ContainsKey(ImageWidth) || !tags.ContainsKey(ImageLength))
        {
            return false;
        }
        long photometric = Scalar(Photometric, 0);
        long[] extra = Tuple(ExtraSamples, []);
        long[] sampleFormat = Tuple(SampleFormat, [1]);
        if (sampleFormat.Any(f => f != 1))
        {
            return false;
        }
        long[] bps = Tuple(BitsPerSample, [1]);
        long samples = Scalar(SamplesPerPixel, 1);
        if (samples < bps.Length)
        {
            bps = bps[..(int)samples];
        }
        else if (samples > bps.Length && bps.Length == 1)
        {
            bps = Enumerable.Repeat(bps[0], (int)Math.Min(samples, 16)).ToArray();
        }
        if (bps.Length != samples || bps.Any(b => b != 8))
        {
            return false;
        }
        // Pillow's OPEN_INFO entries this reader covers: (photometric, samples, extra samples, fill order) -> mode and
        // raw mode (";I" inverts, ";R" reverses the bits of each byte; Pillow has no unpacker for L;IR).
        (string Mode, string RawMode)? modes = (photometric, samples, extra.Length == 1 ? extra[0] : extra.Length == 0 ? -1 : -2, fillOrder) switch
        {
            (1, 1, -1, 1) => ("L", "L"),
            (1, 1, -1, 2) => ("L", "L;R"),
            (0, 1, -1, 1) => ("L", "L;I"),
            (0, 1, -1, 2) => ("L", "L;IR"),
            (2, 3, -1, 1) => ("RGB", "RGB"),
            (2, 3, -1, 2) => ("RGB", "RGB;R"),
            (2, 4, 0, 1) => ("RGBX", "RGBX"),
            (2, 4, 2, 1) => ("RGBA", "RGBA"),
            _ => null,
        };
        if (modes is null)
        {
            return false;
        }
        (string mode, string rawMode) = modes.Value;
        long width = tags[ImageWidth][0], height = tags[ImageLength][0];
        if (width > int.MaxValue || height > int.MaxValue)
        {
            // Pillow's decompression-bomb check refuses any such size; its own size check refuses 0 (CheckSize below).
            throw new ImageDecodeException(source, $"the TIFF claims {width}x{height} pixels");
        }
        ImageLoader.CheckSize((int)width, (int)height, source, maxPixels);
        if (rawMode == "L;IR")
        {
            throw new ImageDecodeException(source, "unknown raw mode for given image mode (TIFF raw mode L;IR: Photometric 0 with FillOrder 2)");
        }
        int pixelBytes = (int)samples;
        long rowsPerStrip = Scalar(RowsPerStrip, height);
        long[] offsets = tags[StripOffsets];
        // ImageFile.load memory-maps a lone raw tile whose raw mode is the image mode, from a path only, and only if
        // its offset is inside the file: the whole image is then read from that offset, whatever the tile's extents.
        bool mapped = fromPath && offsets.Length == 1 && mode == rawMode && mode is ("L" or "RGBX" or "RGBA")
            && offsets[0] >= 0 && offsets[0] <= file.Length;
        if (rowsPerStrip <= 0 && !mapped)
        {
            throw new ImageDecodeException(source, "tile cannot extend outside image (TIFF RowsPerStrip is 0)");
        }

        // The tiles _setup builds: strips top to bottom, starting over at the top once past the last row.
        var tiles = new List<(long Offset, long Top, long Bottom)>();
        long y = 0;
        foreach (long offset in offsets)
        {
            tiles.Add((offset, y, Math.Min(y + rowsPerStrip, height)));
            y += rowsPerStrip;
            if (y >= height)
            {
                y = 0;
            }
        }
        int w = (int)width, h = (int)height;
        int lineBytes = w * pixelBytes;
        byte[] rows = new byte[checked((long)lineBytes * h)];
        if (mapped)
        {
            if (tiles[0].Offset + rows.LongLength > file.Length)
            {
                throw new ImageDecodeException(source, $"buffer is not large enough: the TIFF's pixels need {rows.Length} bytes from offset {tiles[0].Offset}");
            }
            Array.Copy(file, tiles[0].Offset, rows, 0, rows.Length);
        }
        else
        {
            // ImageFile.load: tiles in file order, a run of tiles differing only in offset reduced to its last.
            var ordered = tiles.OrderBy(t => t.Offset).ToList();
            for (int i = 0; i < ordered.Count; i++)
            {
                (long offset, long top, long bottom) = ordered[i];
                if (i + 1 < ordered.Count && ordered[i + 1].Top == top && ordered[i + 1].Bottom == bottom)
                {
                    continue;
                }
                long need = (bottom - top) * lineBytes;
                long available = offset >= file.Length ? 0 : file.Length - offset;
                if (available < need)
                {
                    throw new ImageDecodeException(source, $"image file is truncated: the TIFF strip at offset {offset} has {Math.Max(0, available)} of its {need} bytes");
                }
                Array.Copy(file, offset, rows, top * lineBytes, need);
                // The unpacker inverts and bit-reverses what it decodes; rows no strip covers stay 0.
                bool invert = rawMode == "L;I", reverse = rawMode.EndsWith(";R");
                for (long k = top * lineBytes, end = k + need; (invert || reverse) && k < end; k++)
                {
                    byte b = reverse ? ReverseBits(rows[k]) : rows[k];
                    rows[k] = invert ? (byte)(255 - b) : b;
                }
            }
        }

        RgbImage result = RgbImage.Rent(w, h);
        byte[] rgb = result.Pixels;
        for (long i = 0, o = 0; i < rows.LongLength; i += pixelBytes, o += 3)
        {
            if (pixelBytes == 1)
            {
                rgb[o] = rgb[o + 1] = rgb[o + 2] = rows[i];
            }
            else
            {
                rgb[o] = rows[i];
                rgb[o + 1] = rows[i + 1];
                rgb[o + 2] = rows[i + 2];
            }
        }
        image = result;
        return true;
    }

    private static byte ReverseBits(byte b)
    {
        int reversed = 0;
        for (int bit = 0; bit < 8; bit++)
        {
            reversed |= ((b >> bit) & 1) << (7 - bit);
        }
        return (byte)reversed;
    }

    /// <summary>
    /// What Pillow 9.4's _setup makes of a BYTE-typed tag, a bytes object: ImageWidth and ImageLength go through
    /// int(), which parses ASCII digits; StripOffsets and TileOffsets iterate to integers; Orientation and
    /// PlanarConfiguration match none of the values they are compared with (no rotation, contiguous samples);
    /// SampleFormat of more than one byte, all 1, becomes (1,); RowsPerStrip is used only by the raw decoder
    /// (the compressed ones leave it to libtiff); Photometric is overridden by old-style JPEG compression. Anything
    /// else is a bytes object in the OPEN_INFO key or an integer comparison: Pillow cannot identify the file.
    /// </summary>
    private static void PillowBytesTag(Dictionary<ushort, long[]> tags, ushort tag, long[] bytes, string source)
    {
        long compression = tags.TryGetValue(Compression, out long[]? c) ? c[0] : 1;
        switch (tag)
        {
            case StripOffsets or TileOffsets:
                return;
            case Orientation or PlanarConfiguration:
                tags.Remove(tag);
                return;
            case SampleFormat when bytes.Length > 1 && bytes.All(b => b == 1):
                tags[tag] = [1];
                return;
            case RowsPerStrip when compression != 1:
            case Photometric when compression == 6:
                return;
            case ImageWidth or ImageLength:
                tags[tag] = [PythonInt(bytes) ?? throw new ImageDecodeException(source,
                    $"invalid literal for int() with base 10 (TIFF tag {tag} holds the bytes {Convert.ToHexString([.. bytes.Select(b => (byte)b)])})")];
                return;
            default:
                throw new ImageDecodeException(source, $"cannot identify image file (TIFF tag {tag} is BYTE-typed, which Pillow keeps as bytes)");
        }
    }

    /// <summary>Python's int() of ASCII bytes in base 10: blanks around, a sign, digits with single underscores between; null where it raises.</summary>
    private static long? PythonInt(long[] bytes)
    {
        static bool Blank(long b) => b is ' ' or '\t' or '\n' or '\v' or '\f' or '\r';
        int start = 0, end = bytes.Length;
        while (start < end && Blank(bytes[start]))
        {
            start++;
        }
        while (end > start && Blank(bytes[end - 1]))
        {
            end--;
        }
        bool negative = start < end && bytes[start] == '-';
        if (start < end && bytes[start] is '-' or '+')
        {
            start++;
        }
        if (start == end || bytes[start] == '_' || bytes[end - 1] == '_')
        {
            return null;
        }
        long value = 0;
        for (int i = start; i < end; i++)
        {
            if (bytes[i] == '_' && bytes[i - 1] != '_')
            {
                continue;
            }
            if (bytes[i] is < '0' or > '9')
            {
                return null;
            }
            // Anything past int.MaxValue is refused as a size anyway; saturating keeps it there.
            value = Math.Min((value * 10) + (bytes[i] - '0'), 1L << 40);
        }
        return negative ? -value : value;
    }

    /// <summary>The first IFD's tags as this reader interprets them.</summary>
    /// <param name="Values">Integer values of the tags this reader uses.</param>
    /// <param name="Bytes">Those of them that were BYTE-typed, which Pillow keeps as bytes.</param>
    /// <param name="Opaque">Some tag this reader uses has a type it does not interpret (ASCII, rational, float,
    /// UNDEFINED, a negative signed value): the file is left to ImageSharp.</param>
    /// <param name="Cut">Where Pillow stopped reading the directory before its last entry, for a message; null if it did not.</param>
    private sealed record Ifd(Dictionary<ushort, long[]> Values, Dictionary<ushort, long[]> Bytes, bool Opaque, string? Cut);

    /// <summary>
    /// The first IFD's integer tags as ImageFileDirectory_v2.load reads them: entries up to where the file ends or up
    /// to a tag whose value lies past it (_safe_read's "Truncated File Read" ends the load, keeping the tags before),
    /// the last of duplicate tags kept. Null for a header Pillow does not read as classic TIFF.
    /// </summary>
    private static Ifd? ReadFirstIfd(byte[] file)
    {
        if (file.Length < 8)
        {
            return null;
        }
        bool little = file[0] == 'I' && file[1] == 'I';
        if (!little && !(file[0] == 'M' && file[1] == 'M'))
        {
            return null;
        }
        uint U32(long at) => little ? BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan((int)at)) : BinaryPrimitives.ReadUInt32BigEndian(file.AsSpan((int)at));
        ushort U16(long at) => little ? BinaryPrimitives.ReadUInt16LittleEndian(file.AsSpan((int)at)) : BinaryPrimitives.ReadUInt16BigEndian(file.AsSpan((int)at));
        ulong U64(long at) => little ? BinaryPrimitives.ReadUInt64LittleEndian(file.AsSpan((int)at)) : BinaryPrimitives.ReadUInt64BigEndian(file.AsSpan((int)at));
        if (U16(2) != 42)
        {
            return null;
        }
        long ifd = U32(4);
        if (ifd == 0 || ifd + 2 > file.Length)
        {
            return null;
        }
        var tags = new Dictionary<ushort, long[]>();
        var bytesTags = new Dictionary<ushort, long[]>();
        var opaque = new HashSet<ushort>();
        int count = U16(ifd);
        for (long i = 0, at = ifd + 2; i < count && at + 12 <= file.Length; i++, at += 12)
        {
            ushort tag = U16(at), type = U16(at + 2);
            long n = U32(at + 4);
            // Pillow's _load_dispatch: the types it reads, and their sizes; LONG8 (16) too, even in classic TIFF.
            int unit = type switch { 1 or 2 or 6 or 7 => 1, 3 or 8 => 2, 4 or 9 or 11 or 13 => 4, 5 or 10 or 12 or 16 => 8, _ => 0 };
            if (unit == 0)
            {
                continue; // Pillow ignores tags of unknown types
            }
            long size = n * unit;
            long data = size > 4 ? U32(at + 8) : at + 8;
            if (size == 0)
            {
                continue; // no data: the tag is skipped
            }
            if (data + size > file.Length)
            {
                return new Ifd(tags, bytesTags, opaque.Count > 0, $"at tag {tag}, whose value lies past the end of the file");
            }
            bool interesting = tag is ImageWidth or ImageLength or BitsPerSample or Compression or Photometric or FillOrder or StripOffsets
                or Orientation or SamplesPerPixel or RowsPerStrip or PlanarConfiguration or TileOffsets or ExtraSamples or SampleFormat;
            if (!interesting)
            {
                continue;
            }
            if (n > 1 << 24)
            {
                return null;
            }
            // The last entry of a tag decides: a later one replaces the values, the type and whether it is opaque.
            tags.Remove(tag);
            bytesTags.Remove(tag);
            opaque.Remove(tag);
            if (type is 2 or 5 or 7 or 10 or 11 or 12)
            {
                opaque.Add(tag);
                continue;
            }
            long[] values = new long[n];
            for (long k = 0; k < n; k++)
            {
                values[k] = type switch
                {
                    1 => file[data + k],
                    3 => U16(data + (2 * k)),
                    4 or 13 => U32(data + (4 * k)),
                    6 => (sbyte)file[data + k],
                    8 => (short)U16(data + (2 * k)),
                    9 => (int)U32(data + (4 * k)),
                    _ => (long)Math.Min(U64(data + (8 * k)), long.MaxValue),
                };
            }
            if (values.Any(v => v < 0))
            {
                opaque.Add(tag);
                continue;
            }
            tags[tag] = values;
            if (type == 1)
            {
                bytesTags[tag] = values;
            }
        }
        return new Ifd(tags, bytesTags, opaque.Count > 0, ifd + 2 + (12L * count) > file.Length ? "where its entries run past the end of the file" : null);
    }
}
