using System.Buffers.Binary;

namespace IJepa.Preprocessing;

/// <summary>
/// TGA files read as Pillow 9.4's TgaImagePlugin reads them: its header checks, its palette handling (entries
/// past the stored ones keep the grey ramp of a new palette; a palette on an RGB or 1-bit image is an error), its
/// raw decoder (which wants every row) and its TgaRleDecode (runs may not cross a row, literals may). ImageSharp
/// fills pixel data cut short and refuses some headers Pillow reads, so it never sees a TGA file.
/// </summary>
internal static class PillowTga
{
    private const int HeaderLength = 18;

    /// <summary>
    /// Whether Pillow's TGA plugin would open the file. TGA has no signature, so this is the plugin's header check;
    /// the colour-map byte (0 or 1) rules out every other format this library reads, whose second byte is a letter
    /// or 0xD8.
    /// </summary>
    public static bool Handles(ReadOnlySpan<byte> head) =>
        head.Length >= HeaderLength && head[1] <= 1 && BinaryPrimitives.ReadUInt16LittleEndian(head[12..]) > 0
        && BinaryPrimitives.ReadUInt16LittleEndian(head[14..]) > 0 && head[16] is 1 or 8 or 16 or 24 or 32
        && head[2] is 1 or 2 or 3 or 9 or 10 or 11;

    public static RgbImage Decode(ReadOnlySpan<byte> file, string source, long maxPixels)
    {
        if (!Handles(file))
        {
            throw new ImageDecodeException(source, "cannot identify image file: not a TGA file (Pillow's header check fails)");
        }
        int idLength = file[0];
        bool hasColorMap = file[1] == 1;
        int imageType = file[2];
        int width = BinaryPrimitives.ReadUInt16LittleEndian(file[12..]);
        int height = BinaryPrimitives.ReadUInt16LittleEndian(file[14..]);
        int depth = file[16];
        int flags = file[17];
        bool compressed = (imageType & 8) != 0;
        bool flipHorizontally = (flags & 0x30) is 0x10 or 0x30;
        bool topDown = (flags & 0x20) != 0;

        string mode = (imageType & 7) switch
        {
            3 => depth switch { 1 => "1", 16 => "LA", _ => "L" },
            1 => "P",
            _ => depth == 32 ? "RGBA" : "RGB",
        };

        // Python's short reads: the ID and the palette take what is there, and the pixels start where they end.
        int position = Math.Min(file.Length, HeaderLength + idLength);
        byte[]? palette = null;
        if (hasColorMap)
        {
            int start = BinaryPrimitives.ReadUInt16LittleEndian(file[3..]);
            int count = BinaryPrimitives.ReadUInt16LittleEndian(file[5..]);
            int mapDepth = file[7];
            if (mapDepth is 16 or 24 or 32)
            {
                int entrySize = mapDepth / 8;
                int stored = Math.Min(entrySize * count, file.Length - position);
                ReadOnlySpan<byte> entries = file.Slice(position, stored);
                position += stored;
                palette = RealizePalette(entries, start, entrySize, mode, source);
            }
        }

        (string RawMode, int Bits)? raw = ((imageType & 7), depth) switch
        {
            (1, 8) => ("P", 8),
            (3, 1) => ("1", 1),
            (3, 8) => ("L", 8),
            (3, 16) => ("LA", 16),
            (2, 16) => ("BGR;5", 16),
            (2, 24) => ("BGR", 24),
            (2, 32) => ("BGRA", 32),
            _ => null,
        };
        if (raw is null)
        {
            throw new ImageDecodeException(source, $"cannot load this image (Pillow has no TGA decoder for image type {imageType} at {depth} bits)");
        }
        (string rawMode, int bits) = raw.Value;
        ImageLoader.CheckSize(width, height, source, maxPixels);

        int lineBytes = ((bits * width) + 7) / 8;
        byte[] rows = new byte[checked(lineBytes * height)];
        ReadOnlySpan<byte> data = file[position..];
        if (compressed)
        {
            DecodeRle(data, rows, lineBytes, height, depth / 8, topDown, source);
        }
        else
        {
            if (data.Length < rows.Length)
            {
                throw new ImageDecodeException(source, $"image file is truncated: the TGA pixel data has {data.Length} of {rows.Length} bytes");
            }
            for (int y = 0; y < height; y++)
            {
                int target = topDown ? y : height - 1 - y;
                data.Slice(y * lineBytes, lineBytes).CopyTo(rows.AsSpan(target * lineBytes, lineBytes));
            }
        }

        RgbImage result = RgbImage.Rent(width, height);
        Unpack(rows, lineBytes, width, height, rawMode, palette, flipHorizontally, result.Pixels);
        return result;
    }

    /// <summary>
    /// The palette Pillow's putpalette makes: a grey ramp overwritten by <paramref name="start"/> black entries and
    /// then the stored ones. It turns an L or LA image into P or PA; other modes cannot take one.
    /// </summary>
    private static byte[] RealizePalette(ReadOnlySpan<byte> entries, int start, int entrySize, string mode, string source)
    {
        if (mode is not ("L" or "LA" or "P"))
        {
            throw new ImageDecodeException(source, $"unrecognized image mode (a colour map on a TGA image of mode {mode})");
        }
        if (entrySize == 4)
        {
            throw new ImageDecodeException(source, "unrecognized raw mode (a 32-bit TGA colour map)");
        }
        long total = ((long)entrySize * start) + entries.Length;
        if (total / entrySize > 256)
        {
            throw new ImageDecodeException(source, $"invalid palette size ({total / entrySize} TGA colour map entries)");
        }
        byte[] palette = new byte[256 * 3];
        for (int i = 0; i < 256; i++)
        {
            palette[i * 3] = palette[(i * 3) + 1] = palette[(i * 3) + 2] = (byte)i;
        }
        int count = (int)(total / entrySize);
        for (int i = 0; i < count; i++)
        {
            int r = 0, g = 0, b = 0;
            int at = (i - start) * entrySize;
            if (i >= start)
            {
                if (entrySize == 2)
                {
                    int p = entries[at] | (entries[at + 1] << 8);
                    (r, g, b) = (((p >> 10) & 31) * 255 / 31, ((p >> 5) & 31) * 255 / 31, (p & 31) * 255 / 31);
                }
                else
                {
                    (r, g, b) = (entries[at + 2], entries[at + 1], entries[at]);
                }
            }
            palette[i * 3] = (byte)r;
            palette[(i * 3) + 1] = (byte)g;
            palette[(i * 3) + 2] = (byte)b;
        }
        return palette;
    }

    /// <summary>
    /// Pillow's TgaRleDecode: a run must end inside its row (else "buffer overrun"); a literal may carry on into the
    /// next rows. Data that ends before the last row is a truncated file; anything after it is ignored.
    /// </summary>
    private static void DecodeRle(ReadOnlySpan<byte> data, byte[] rows, int lineBytes, int height, int pixelBytes, bool topDown, string source)
    {
        byte[] line = new byte[lineBytes];
        int x = 0, done = 0, p = 0;
        if (pixelBytes > 0)
        {
            while (p < data.Length)
            {
                int n = pixelBytes * ((data[p] & 0x7F) + 1);
                if ((data[p] & 0x80) != 0)
                {
                    if (data.Length - p < 1 + pixelBytes)
                    {
                        break;
                    }
                    if (x + n > lineBytes)
                    {
                        throw new ImageDecodeException(source, "buffer overrun when reading image file (a TGA run crosses the end of a row)");
                    }
                    for (int i = 0; i < n; i += pixelBytes)
                    {
                        data.Slice(p + 1, pixelBytes).CopyTo(line.AsSpan(x + i));
                    }
                    p += 1 + pixelBytes;
                    x += n;
                }
                else
                {
                    if (data.Length - p < 1 + n)
                    {
                        break;
                    }
                    p++;
                    int remaining = n;
                    while (remaining > 0)
                    {
                        int take = Math.Min(remaining, lineBytes - x);
                        data.Slice(p, take).CopyTo(line.AsSpan(x));
                        p += take;
                        remaining -= take;
                        x += take;
                        if (x >= lineBytes && Flush(line, rows, ref x, ref done, height, topDown))
                        {
                            return;
                        }
                    }
                    continue;
                }
                if (x >= lineBytes && Flush(line, rows, ref x, ref done, height, topDown))
                {
                    return;
                }
            }
        }
        throw new ImageDecodeException(source, $"image file is truncated: the TGA RLE data ends after {done} of {height} rows");
    }

    /// <summary>Stores a complete row; true once the last one is in.</summary>
    private static bool Flush(byte[] line, byte[] rows, ref int x, ref int done, int height, bool topDown)
    {
        int y = topDown ? done : height - 1 - done;
        line.CopyTo(rows, y * line.Length);
        x = 0;
        done++;
        return done == height;
    }

    private static void Unpack(byte[] rows, int lineBytes, int width, int height, string rawMode, byte[]? palette, bool flip, byte[] rgb)
    {
        for (int y = 0; y < height; y++)
        {
            ReadOnlySpan<byte> line = rows.AsSpan(y * lineBytes, lineBytes);
            for (int x = 0; x < width; x++)
            {
                int r, g, b;
                switch (rawMode)
                {
                    case "1":
                        r = g = b = (line[x >> 3] & (0x80 >> (x & 7))) != 0 ? 255 : 0;
                        break;
                    case "L" or "P" or "LA":
                        {
                            int v = rawMode == "LA" ? line[x * 2] : line[x];
                            (r, g, b) = palette is null ? (v, v, v) : (palette[v * 3], palette[(v * 3) + 1], palette[(v * 3) + 2]);
                            break;
                        }
                    case "BGR;5":
                        {
                            int v = line[x * 2] | (line[(x * 2) + 1] << 8);
                            (r, g, b) = (((v >> 10) & 31) * 255 / 31, ((v >> 5) & 31) * 255 / 31, (v & 31) * 255 / 31);
                            break;
                        }
                    default:
                        {
                            int size = rawMode == "BGR" ? 3 : 4;
                            (r, g, b) = (line[(x * size) + 2], line[(x * size) + 1], line[x * size]);
                            break;
                        }
                }
                int o = ((y * width) + (flip ? width - 1 - x : x)) * 3;
                rgb[o] = (byte)r;
                rgb[o + 1] = (byte)g;
                rgb[o + 2] = (byte)b;
            }
        }
    }
}
