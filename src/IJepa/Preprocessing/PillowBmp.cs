using System.Buffers.Binary;

namespace IJepa.Preprocessing;

/// <summary>
/// BMP ("BM") files read as Pillow 9.4's BmpImagePlugin reads them: its header checks, its raw decoder (which
/// wants every row but the last row's padding) and its RLE decoder (which wants width × height pixels), and
/// its unpackers for the pixels. ImageSharp accepts pixel data cut short and fills the gap, and refuses
/// some files Pillow reads (a pixel-data offset inside the colour table, RLE escapes past the image).
/// </summary>
internal static class PillowBmp
{
    private const uint Rle8 = 1, Rle4 = 2, Bitfields = 3;

    public static bool Handles(ReadOnlySpan<byte> head) => head.Length >= 2 && head[0] == (byte)'B' && head[1] == (byte)'M';

    // fromPath: opened by its path, where Pillow memory-maps an uncompressed L or P file (see the stride check below).
    public static RgbImage Decode(ReadOnlySpan<byte> file, string source, long maxPixels, bool fromPath = false)
    {
        if (file.Length < 14)
        {
            throw Unidentified(source, "the file header is cut short");
        }
        long offset = BinaryPrimitives.ReadUInt32LittleEndian(file[10..]);
        int position = 14;
        if (file.Length < position + 4)
        {
            throw Unidentified(source, "the bitmap header is cut short");
        }
        uint headerSize = BinaryPrimitives.ReadUInt32LittleEndian(file[position..]);
        position += 4;
        if (headerSize < 4 || file.Length - position < headerSize - 4)
        {
            throw new ImageDecodeException(source, "Truncated File Read (the BMP header is cut short)");
        }
        ReadOnlySpan<byte> header = file.Slice(position, (int)headerSize - 4);
        position += (int)headerSize - 4;
        long width, height;
        int bits, direction = -1, paletteEntrySize;
        uint compression, colors = 0;
        uint[]? masks = null;
        if (headerSize == 12)
        {
            width = BinaryPrimitives.ReadUInt16LittleEndian(header);
            height = BinaryPrimitives.ReadUInt16LittleEndian(header[2..]);
            bits = BinaryPrimitives.ReadUInt16LittleEndian(header[6..]);
            compression = 0;
            paletteEntrySize = 3;
        }
        else if (headerSize is 40 or 64 or 108 or 124)
        {
            bool flipped = header[7] == 0xFF;
            direction = flipped ? 1 : -1;
            width = BinaryPrimitives.ReadUInt32LittleEndian(header);
            uint rawHeight = BinaryPrimitives.ReadUInt32LittleEndian(header[4..]);
            height = flipped ? (1L << 32) - rawHeight : rawHeight;
            bits = BinaryPrimitives.ReadUInt16LittleEndian(header[10..]);
            compression = BinaryPrimitives.ReadUInt32LittleEndian(header[12..]);
            colors = BinaryPrimitives.ReadUInt32LittleEndian(header[28..]);
            paletteEntrySize = 4;
            if (compression == Bitfields)
            {
                masks = new uint[4];
                if (header.Length >= 52)
                {
                    for (int i = 0; i < 4; i++)
                    {
                        masks[i] = BinaryPrimitives.ReadUInt32LittleEndian(header[(36 + (4 * i))..]);
                    }
                }
                else
                {
                    // A 40-byte header: three masks follow it.
                    for (int i = 0; i < 3; i++)
                    {
                        if (file.Length - position < 4)
                        {
                            throw Unidentified(source, "the bitfield masks are cut short");
                        }
                        masks[i] = BinaryPrimitives.ReadUInt32LittleEndian(file[position..]);
                        position += 4;
                    }
                }
            }
        }
        else
        {
            throw new ImageDecodeException(source, $"Unsupported BMP header type ({headerSize})");
        }

        long colorCount = colors != 0 ? colors : 1L << Math.Min(bits, 62);
        if (offset == 14 + headerSize && bits <= 8)
        {
            offset += 4 * colorCount;
        }
        (string? mode, string rawMode) = bits switch
        {
            1 => ("P", "P;1"),
            4 => ("P", "P;4"),
            8 => ("P", "P"),
            16 => ("RGB", "BGR;15"),
            24 => ("RGB", "BGR"),
            32 => ("RGB", "BGRX"),
            _ => ((string?)null, ""),
        };
        if (mode is null)
        {
            throw new ImageDecodeException(source, $"Unsupported BMP pixel depth ({bits})");
        }
        bool rle = false;
        if (compression == Bitfields)
        {
            rawMode = (bits, masks![0], masks[1], masks[2], masks[3]) switch
            {
                (32, 0xFF0000, 0xFF00, 0xFF, 0) => "BGRX",
                (32, 0xFF000000, 0xFF0000, 0xFF00, 0) => "XBGR",
                (32, 0xFF000000, 0xFF0000, 0xFF00, 0xFF) => "ABGR",
                (32, 0xFF, 0xFF00, 0xFF0000, 0xFF000000) => "RGBA",
                (32, 0xFF0000, 0xFF00, 0xFF, 0xFF000000) => "BGRA",
                (32, 0, 0, 0, 0) => "BGRA",
                (24, 0xFF0000, 0xFF00, 0xFF, _) => "BGR",
                (16, 0xF800, 0x7E0, 0x1F, _) => "BGR;16",
                (16, 0x7C00, 0x3E0, 0x1F, _) => "BGR;15",
                _ => throw new ImageDecodeException(source, "Unsupported BMP bitfields layout"),
            };
        }
        else if (compression is Rle8 or Rle4)
        {
            rle = true;
        }
        else if (compression != 0)
        {
            throw new ImageDecodeException(source, $"Unsupported BMP compression ({compression})");
        }

        byte[]? palette = null;
        if (mode == "P")
        {
            if (colorCount is <= 0 or > 65536)
            {
                throw new ImageDecodeException(source, $"Unsupported BMP Palette size ({colorCount})");
            }
            int paletteLength = (int)Math.Min(paletteEntrySize * colorCount, Math.Max(0, file.Length - position));
            ReadOnlySpan<byte> table = file.Slice(position, paletteLength);
            // Pillow's offset 0 means "where the file pointer is": after the colour table it has read.
            position += paletteLength;
            bool greyscale = true;
            for (int i = 0; i < colorCount && greyscale; i++)
            {
                int value = colorCount == 2 ? i * 255 : i & 255;
                int at = i * paletteEntrySize;
                greyscale = at + 3 <= table.Length && table[at] == value && table[at + 1] == value && table[at + 2] == value;
            }
            if (greyscale)
            {
                mode = rawMode = colorCount == 2 ? "1" : "L";
            }
            else
            {
                // Palette entries as Pillow unpacks them (BGRX or BGR), over its default grey ramp.
                if (table.Length / paletteEntrySize > 256)
                {
                    throw new ImageDecodeException(source, "invalid palette size");
                }
                palette = new byte[768];
                for (int i = 0; i < 256; i++)
                {
                    palette[i * 3] = palette[(i * 3) + 1] = palette[(i * 3) + 2] = (byte)i;
                }
                for (int i = 0; i < table.Length / paletteEntrySize; i++)
                {
                    palette[i * 3] = table[(i * paletteEntrySize) + 2];
                    palette[(i * 3) + 1] = table[(i * paletteEntrySize) + 1];
                    palette[(i * 3) + 2] = table[i * paletteEntrySize];
                }
            }
        }
        if (width <= 0 || height <= 0 || width > int.MaxValue || height > int.MaxValue)
        {
            throw Unidentified(source, $"the BMP claims {width}x{height} pixels");
        }
        ImageLoader.CheckSize((int)width, (int)height, source, maxPixels);
        int w = (int)width, h = (int)height;
        if (offset == 0)
        {
            offset = position;
        }

        RgbImage result = RgbImage.Rent(w, h);
        try
        {
            if (rle)
            {
                // BmpRleDecoder hands its output to the raw decoder as "P" or "L" rows, top-down or bottom-up.
                if (mode is not ("P" or "L"))
                {
                    throw new ImageDecodeException(source, "unknown raw mode for given image mode");
                }
                byte[] indices = RleDecode(file, source, offset, w, h, compression == Rle4);
                if (indices.Length < (long)w * h)
                {
                    throw new ImageDecodeException(source, $"not enough image data (the RLE data gives {indices.Length:N0} of {(long)w * h:N0} pixels)");
                }
                Unpack(indices, 0, w, h, w, direction, mode, mode, palette, result.Pixels);
                return result;
            }
            int rawBits = rawMode switch
            {
                "1" or "P;1" => 1,
                "P;4" => 4,
                "P" or "L" => 8,
                "BGR;15" or "BGR;16" => 16,
                "BGR" => 24,
                _ => 32,
            };
            long stride = ((width * bits) + 31 >> 3) & ~3L;
            long rowBytes = ((width * rawBits) + 7) / 8;
            if (fromPath && mode == rawMode && mode is "L" or "P" && offset + (stride * h) <= file.Length)
            {
                // ImageFile.load memory-maps a lone raw tile whose raw mode is the image mode when the file was opened
                // by its path and its rows fit (offset + height x stride): each row is then read from offset + y x stride,
                // even where the stride is shorter than the row (a greyscale palette makes 1- and 4-bit files 8-bit L),
                // which decoding refuses. The last rows then run past the end of the file, into the zeros that fill the
                // mapping's last page.
                long mapped = offset + (stride * (h - 1)) + rowBytes;
                ReadOnlySpan<byte> data = file;
                if (mapped > file.Length)
                {
                    byte[] padded = new byte[mapped];
                    file.CopyTo(padded);
                    data = padded;
                }
                Unpack(data, (int)offset, w, h, (int)stride, direction, rawMode, mode, palette, result.Pixels);
                return result;
            }
            if (stride - rowBytes < 0)
            {
                throw new ImageDecodeException(source, "bad configuration when reading image file (BMP rows shorter than their pixels)");
            }
            long needed = (stride * (h - 1)) + rowBytes;
            if (offset + needed > file.Length)
            {
                throw new ImageDecodeException(source,
                    $"image file is truncated: the BMP pixel data needs {needed:N0} bytes from byte {offset:N0}, the file has {Math.Max(0, file.Length - offset):N0}");
            }
            Unpack(file, (int)offset, w, h, (int)stride, direction, rawMode, mode, palette, result.Pixels);
            return result;
        }
        catch
        {
            result.Release();
            throw;
        }
    }

    /// <summary>BmpRleDecoder.decode, byte for byte (Python; it stops quietly at the end of the data).</summary>
    private static byte[] RleDecode(ReadOnlySpan<byte> file, string source, long offset, int xsize, int ysize, bool rle4)
    {
        long total = (long)xsize * ysize;
        var data = new List<byte>((int)Math.Min(total, 1 << 24));
        long fd = offset;
        int x = 0;
        int Read(ReadOnlySpan<byte> f, ref long p) => p < f.Length ? f[(int)p++] : -1;
        while (data.Count < total)
        {
            int pixels = Read(file, ref fd);
            int value = Read(file, ref fd);
            if (pixels < 0 || value < 0)
            {
                break;
            }
            if (pixels != 0)
            {
                int count = pixels;
                if (x + count > xsize)
                {
                    count = Math.Max(0, xsize - x);
                }
                for (int i = 0; i < count; i++)
                {
                    data.Add(rle4 ? (byte)(i % 2 == 0 ? value >> 4 : value & 0x0F) : (byte)value);
                }
                x += count;
            }
            else if (value == 0)
            {
                while (data.Count % xsize != 0)
                {
                    data.Add(0);
                }
                x = 0;
            }
            else if (value == 1)
            {
                break;
            }
            else if (value == 2)
            {
                // Pillow 9.4 reads two bytes to see that they are there, then reads the next two as the offsets.
                if (file.Length - fd < 2)
                {
                    break;
                }
                fd += 2;
                if (file.Length - fd < 2)
                {
                    throw new ImageDecodeException(source, "not enough values to unpack (an RLE delta is cut short)");
                }
                int right = Read(file, ref fd), up = Read(file, ref fd);
                long pad = right + ((long)up * xsize);
                for (long i = 0; i < pad; i++)
                {
                    data.Add(0);
                }
                x = data.Count % xsize;
            }
            else
            {
                int byteCount = rle4 ? value / 2 : value;
                int available = (int)Math.Max(0, Math.Min(byteCount, file.Length - fd));
                for (int i = 0; i < available; i++)
                {
                    byte b = file[(int)fd + i];
                    if (rle4)
                    {
                        data.Add((byte)(b >> 4));
                        data.Add((byte)(b & 0x0F));
                    }
                    else
                    {
                        data.Add(b);
                    }
                }
                fd += available;
                if (available < byteCount)
                {
                    break;
                }
                x += value;
                if (fd % 2 != 0)
                {
                    fd++;
                }
            }
        }
        return [.. data];
    }

    /// <summary>Pillow's raw decoder and unpackers, then convert("RGB").</summary>
    private static void Unpack(ReadOnlySpan<byte> data, int offset, int w, int h, int stride, int direction, string rawMode, string mode, byte[]? palette, byte[] rgb)
    {
        for (int row = 0; row < h; row++)
        {
            int y = direction < 0 ? h - 1 - row : row;
            ReadOnlySpan<byte> line = data[(offset + (row * stride))..];
            int o = y * w * 3;
            for (int x = 0; x < w; x++, o += 3)
            {
                int r, g, b;
                switch (rawMode)
                {
                    case "1":
                        r = g = b = ((line[x >> 3] >> (7 - (x & 7))) & 1) != 0 ? 255 : 0;
                        break;
                    case "P;1":
                        (r, g, b) = Lookup(palette, (line[x >> 3] >> (7 - (x & 7))) & 1);
                        break;
                    case "P;4":
                        (r, g, b) = Lookup(palette, (x & 1) == 0 ? line[x >> 1] >> 4 : line[x >> 1] & 0x0F);
                        break;
                    case "P":
                    case "L":
                        (r, g, b) = mode == "P" ? Lookup(palette, line[x]) : (line[x], line[x], line[x]);
                        break;
                    case "BGR":
                        (b, g, r) = (line[x * 3], line[(x * 3) + 1], line[(x * 3) + 2]);
                        break;
                    case "BGR;15":
                    case "BGR;16":
                        {
                            int p = line[x * 2] | (line[(x * 2) + 1] << 8);
                            b = (p & 31) * 255 / 31;
                            (g, r) = rawMode == "BGR;15"
                                ? (((p >> 5) & 31) * 255 / 31, ((p >> 10) & 31) * 255 / 31)
                                : (((p >> 5) & 63) * 255 / 63, ((p >> 11) & 31) * 255 / 31);
                            break;
                        }
                    default:
                        {
                            ReadOnlySpan<byte> q = line.Slice(x * 4, 4);
                            (r, g, b) = rawMode switch
                            {
                                "XBGR" or "ABGR" => (q[3], q[2], q[1]),
                                "RGBA" => (q[0], q[1], q[2]),
                                _ => (q[2], q[1], q[0]), // BGRX, BGRA
                            };
                            break;
                        }
                }
                rgb[o] = (byte)r;
                rgb[o + 1] = (byte)g;
                rgb[o + 2] = (byte)b;
            }
        }
    }

    private static (int R, int G, int B) Lookup(byte[]? palette, int index) =>
        palette is null ? (index, index, index) : (palette[index * 3], palette[(index * 3) + 1], palette[(index * 3) + 2]);

    private static ImageDecodeException Unidentified(string source, string why) =>
        new(source, $"cannot identify image file: broken BMP structure ({why})");
}
