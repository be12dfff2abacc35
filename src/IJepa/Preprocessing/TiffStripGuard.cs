using System.Buffers.Binary;
using System.IO.Compression;

namespace IJepa.Preprocessing;

/// <summary>
/// Refuses the striped TIFFs whose pixel data Pillow 9.4 cannot read, before ImageSharp (which fills missing or
/// undecodable strips and carries on) sees them. Uncompressed files go through Pillow's own raw decoder: one
/// tile per strip offset, byte counts ignored, and a strip that runs past the end of the file is "image file is
/// truncated". Compressed files (LZW, Deflate, PackBits) go through libtiff 4.5: a strip with no bytes or
/// running past the end of the file, or whose data does not decode to the rows it must hold, is an error
/// (Pillow reports -2: a broken data stream). Files this does not model (tiles, planar data, other codecs) are
/// left to ImageSharp.
/// </summary>
internal static class TiffStripGuard
{
    public static bool Handles(ReadOnlySpan<byte> head) =>
        head.Length >= 4 && ((head[0] == 'I' && head[1] == 'I' && head[2] == 42 && head[3] == 0) || (head[0] == 'M' && head[1] == 'M' && head[2] == 0 && head[3] == 42));

    public static void Check(byte[] file, string source)
    {
        bool little = file[0] == 'I';
        uint U16(int at) => little ? BinaryPrimitives.ReadUInt16LittleEndian(file.AsSpan(at)) : BinaryPrimitives.ReadUInt16BigEndian(file.AsSpan(at));
        uint U32(int at) => little ? BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(at)) : BinaryPrimitives.ReadUInt32BigEndian(file.AsSpan(at));
        if (file.Length < 8)
        {
            return;
        }
        long ifd = U32(4);
        if (ifd < 8 || ifd + 2 > file.Length)
        {
            return;
        }
        int count = (int)U16((int)ifd);
        if (ifd + 2 + (12L * count) > file.Length)
        {
            return;
        }
        var tags = new Dictionary<int, long[]>();
        for (int i = 0; i < count; i++)
        {
            int entry = (int)ifd + 2 + (12 * i);
            int tag = (int)U16(entry), type = (int)U16(entry + 2);
            long n = U32(entry + 4);
            int size = type switch { 3 => 2, 4 => 4, _ => 0 };
            if (size == 0 || n is <= 0 or > 1 << 20)
            {
                continue;
            }
            long where = n * size <= 4 ? entry + 8 : U32(entry + 8);
            if (where + (n * size) > file.Length)
            {
                return; // libtiff and Pillow judge broken directories in their own ways; leave it to ImageSharp
            }
            long[] values = new long[n];
            for (int k = 0; k < n; k++)
            {
                values[k] = size == 2 ? U16((int)where + (k * 2)) : U32((int)where + (k * 4));
            }
            tags[tag] = values;
        }
        long One(int tag, long fallback) => tags.TryGetValue(tag, out long[]? v) ? v[0] : fallback;
        if (!tags.TryGetValue(256, out _) || !tags.TryGetValue(257, out _) || !tags.TryGetValue(273, out long[]? offsets) || tags.ContainsKey(322))
        {
            return;
        }
        long width = One(256, 0), height = One(257, 0), compression = One(259, 1), planar = One(284, 1);
        long samples = One(277, 1);
        long bitsPerPixel = tags.TryGetValue(258, out long[]? bps) ? bps.Sum() : samples;
        if (bps is not null && bps.Length == 1 && samples > 1)
        {
            bitsPerPixel = bps[0] * samples;
        }
        long rowsPerStrip = Math.Min(One(278, height), height);
        if (width <= 0 || height <= 0 || rowsPerStrip <= 0 || planar != 1 || bitsPerPixel <= 0)
        {
            return;
        }
        long rowBytes = ((width * bitsPerPixel) + 7) / 8;
        if (compression == 1)
        {
            CheckRaw(file.Length, offsets, width, height, rowsPerStrip, rowBytes, source);
            return;
        }
        if (compression is not (5 or 8 or 32946 or 32773) || !tags.TryGetValue(279, out long[]? counts))
        {
            return;
        }
        long strips = (height + rowsPerStrip - 1) / rowsPerStrip;
        for (int s = 0; s < strips; s++)
        {
            // libtiff's TIFFFetchStripThing pads a short StripOffsets or StripByteCounts with zeros.
            long offset = s < offsets.Length ? offsets[s] : 0, bytes = s < counts.Length ? counts[s] : 0;
            if (strips == 1 && bytes == 0 && offset != 0)
            {
                // libtiff's "bogus StripByteCounts": it estimates the count as the rest of the file.
                bytes = Math.Max(0, file.Length - offset);
            }
            if (bytes == 0 || offset > file.Length || bytes > file.Length - offset)
            {
                throw Broken(source, $"strip {s} ({bytes:N0} bytes at {offset:N0}) lies outside the {file.Length:N0}-byte file");
            }
            long rows = Math.Min(rowsPerStrip, height - (s * rowsPerStrip));
            long need = rows * rowBytes;
            if (need > 1L << 30)
            {
                return;
            }
            ReadOnlySpan<byte> data = file.AsSpan((int)offset, (int)bytes);
            string? problem = compression switch
            {
                5 => Lzw(data.ToArray(), (int)need),
                32773 => PackBits(data, (int)need),
                _ => Deflate(data, (int)need),
            };
            if (problem is not null)
            {
                throw Broken(source, $"strip {s}: {problem}");
            }
        }
    }

    private static ImageDecodeException Broken(string source, string why) =>
        new(source, $"broken data stream when reading image file (TIFF {why})");

    /// <summary>Pillow's raw tiles: one per strip offset (wrapping to the top after the last row), sorted by offset.</summary>
    private static void CheckRaw(long fileLength, long[] offsets, long width, long height, long rowsPerStrip, long rowBytes, string source)
    {
        long y = 0;
        foreach (long offset in offsets)
        {
            long rows = Math.Min(y + rowsPerStrip, height) - Math.Min(y, height);
            long need = rows * rowBytes;
            if (rows > 0 && offset + need > fileLength)
            {
                throw new ImageDecodeException(source,
                    $"image file is truncated: a TIFF strip needs {need:N0} bytes at byte {offset:N0} of a {fileLength:N0}-byte file");
            }
            y += rowsPerStrip;
            if (y >= height)
            {
                y = 0;
            }
        }
        _ = width;
    }

    /// <summary>libtiff's PackBitsDecode: an error only when the data ends before the rows are filled.</summary>
    private static string? PackBits(ReadOnlySpan<byte> data, int need)
    {
        int p = 0, produced = 0;
        while (p < data.Length && produced < need)
        {
            int n = (sbyte)data[p++];
            if (n < 0)
            {
                if (n == -128)
                {
                    continue;
                }
                if (p >= data.Length)
                {
                    break;
                }
                p++;
                produced += Math.Min(-n + 1, need - produced);
            }
            else
            {
                int copy = Math.Min(n + 1, data.Length - p);
                produced += Math.Min(copy, need - produced);
                p += copy;
            }
        }
        return produced < need ? $"PackBits data ends after {produced:N0} of {need:N0} bytes" : null;
    }

    /// <summary>libtiff's ZIPDecode: the stream must inflate to the rows without a data error.</summary>
    private static string? Deflate(ReadOnlySpan<byte> data, int need)
    {
        try
        {
            using var input = new MemoryStream(data.ToArray(), writable: false);
            using var inflate = new ZLibStream(input, CompressionMode.Decompress);
            byte[] output = new byte[need];
            int got = inflate.ReadAtLeast(output, need, throwOnEndOfStream: false);
            return got < need ? $"Deflate data ends after {got:N0} of {need:N0} bytes" : null;
        }
        catch (Exception e) when (e is InvalidDataException or IOException)
        {
            return $"Deflate decoding error ({e.Message})";
        }
    }

    /// <summary>libtiff 4.5's LZWDecode (MSB-first codes, early change): running out, or a code not yet in the table, is an error.</summary>
    private static string? Lzw(byte[] strip, int need)
    {
        const int Clear = 256, End = 257, TableSize = 5119;
        byte[] data = strip;
        if (data.Length >= 2 && data[0] == 0 && (data[1] & 1) != 0)
        {
            return null; // old-style (LSB-first) LZW, which libtiff decodes another way
        }
        int[] length = new int[TableSize];
        int produced = 0, bitPosition = 0, nbits = 9, free = 258, old = -1;
        long totalBits = (long)data.Length * 8;
        for (int i = 0; i < 256; i++)
        {
            length[i] = 1;
        }
        int Next()
        {
            if (totalBits - bitPosition < nbits)
            {
                return End; // "strip not terminated with EOI code": treated as the end
            }
            int code = 0;
            for (int b = 0; b < nbits; b++, bitPosition++)
            {
                code = (code << 1) | ((data[bitPosition >> 3] >> (7 - (bitPosition & 7))) & 1);
            }
            return code;
        }
        while (produced < need)
        {
            int code = Next();
            if (code == End)
            {
                break;
            }
            if (code == Clear)
            {
                free = 258;
                nbits = 9;
                do
                {
                    code = Next(); // libtiff 4.5 skips consecutive Clear codes
                }
                while (code == Clear);
                if (code == End)
                {
                    break;
                }
                if (code > Clear)
                {
                    return "corrupted LZW table";
                }
                produced++;
                old = code;
                continue;
            }
            if (old < 0)
            {
                return "corrupted LZW table (no clear code first)";
            }
            if (code > free || free >= TableSize)
            {
                return "using code not yet in table";
            }
            length[free] = length[old] + 1;
            free++;
            if (free > (1 << nbits) - 2 && nbits < 12)
            {
                nbits++;
            }
            produced += Math.Min(length[code], need - produced);
            old = code;
        }
        return produced < need ? $"LZW data ends after {produced:N0} of {need:N0} bytes" : null;
    }
}
