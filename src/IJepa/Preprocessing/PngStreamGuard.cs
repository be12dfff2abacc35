using System.Buffers.Binary;
using System.IO.Compression;

namespace IJepa.Preprocessing;

/// <summary>
/// Judges a PNG's chunk structure and zlib stream as Pillow 9.4 does, before ImageSharp decodes it. Pillow
/// checks the CRC of every chunk before the first IDAT (ancillary ones too) but of none from there on, wants
/// the IDAT data to inflate to every row ("image file is truncated" when it runs out, "broken data stream" on
/// a zlib error, including a wrong Adler-32 that arrives with the last row's data), and wants every chunk it
/// reads after the image data to be complete. ImageSharp instead fills rows the stream lacks and checks the
/// CRCs of IDAT and IEND, so a file Pillow reads gets its CRCs from the first IDAT on recomputed for it; where
/// ImageSharp would read other pixels than Pillow (a short or missing palette, interlace method 2, DDAT data, an
/// eXIf after the image data, a stream that ends early, an Adam7 file under 5 pixels wide) it gets a rebuilt file
/// that says what Pillow reads. (ImageSharp takes the last PLTE and the last eXIf in the file, wherever it is.)
/// </summary>
internal static class PngStreamGuard
{
    private static ReadOnlySpan<byte> Signature => [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    public static bool Handles(ReadOnlySpan<byte> head) => head.Length >= 8 && head[..8].SequenceEqual(Signature);

    /// <summary>Throws where Pillow refuses the file; returns the bytes ImageSharp should decode (CRCs repaired if needed).</summary>
    public static byte[] Check(byte[] file, string source, long maxPixels)
    {
        if (file.Length < 8 || !file.AsSpan(0, 8).SequenceEqual(Signature))
        {
            return file;
        }
        int p = 8;
        int width = 0, height = 0, depth = 0, colorType = 0, interlace = 0, ihdrAt = 0;
        int plteAt = -1; // chunk_PLTE replaces the palette, and ImageSharp too takes the last PLTE
        bool header = false, exifBefore = false;
        while (true)
        {
            if (file.Length - p < 8)
            {
                throw new ImageDecodeException(source, "cannot identify image file: broken PNG file (the chunks end before the image data)");
            }
            uint length = BinaryPrimitives.ReadUInt32BigEndian(file.AsSpan(p));
            ReadOnlySpan<byte> type = file.AsSpan(p + 4, 4);
            if (!IsChunkType(type))
            {
                throw new ImageDecodeException(source, $"cannot identify image file: broken PNG file (chunk type {Convert.ToHexString(type)})");
            }
            if (type.SequenceEqual("IDAT"u8))
            {
                break;
            }
            if (type.SequenceEqual("IEND"u8))
            {
                return file; // Pillow reads no pixels and returns a blank image; ImageSharp refuses (a known difference)
            }
            if (length > file.Length - p - 8)
            {
                throw new ImageDecodeException(source, $"Truncated File Read: PNG chunk {System.Text.Encoding.ASCII.GetString(type)} is cut short");
            }
            if (type.SequenceEqual("IHDR"u8) && length < 13)
            {
                // PngStream.chunk_IHDR, before the CRC is read.
                throw new ImageDecodeException(source, $"Truncated IHDR chunk ({length} bytes)");
            }
            if (file.Length - p - 8 - length < 4)
            {
                throw new ImageDecodeException(source, $"broken PNG file (incomplete checksum in {System.Text.Encoding.ASCII.GetString(type)})");
            }
            ReadOnlySpan<byte> data = file.AsSpan(p + 8, (int)length);
            uint stored = BinaryPrimitives.ReadUInt32BigEndian(file.AsSpan(p + 8 + (int)length));
            if (Crc(file.AsSpan(p + 4, 4 + (int)length)) != stored)
            {
                throw new ImageDecodeException(source, $"broken PNG file (bad header checksum in {System.Text.Encoding.ASCII.GetString(type)})");
            }
            if (type.SequenceEqual("IHDR"u8))
            {
                width = (int)Math.Min(int.MaxValue, BinaryPrimitives.ReadUInt32BigEndian(data));
                height = (int)Math.Min(int.MaxValue, BinaryPrimitives.ReadUInt32BigEndian(data[4..]));
                depth = data[8];
                colorType = data[9];
                interlace = data[12];
                ihdrAt = p;
                header = true;
                // Before any row buffer exists: a bomb is refused as such, not inflated.
                ImageLoader.CheckSize(width, height, source, maxPixels);
            }
            else if (type.SequenceEqual("PLTE"u8))
            {
                plteAt = p;
            }
            else if (type.SequenceEqual("eXIf"u8))
            {
                exifBefore = true;
            }
            p += 12 + (int)length;
        }
        int channels = colorType switch { 0 => 1, 2 => 3, 3 => 1, 4 => 2, 6 => 4, _ => 0 };
        if (!header || channels == 0 || width <= 0 || height <= 0 || depth is not (1 or 2 or 4 or 8 or 16))
        {
            return file; // Pillow refuses these in its own ways; so does ImageSharp
        }
        long bitsPerPixel = (long)channels * depth;
        var rows = new List<long>(); // filtered row lengths (filter byte included), in stream order
        // Pillow reads any non-zero interlace method as Adam7.
        if (interlace != 0)
        {
            foreach ((int x, int y, int dx, int dy) in PngInterlaceGuard.Passes)
            {
                long w = (width - x + dx - 1) / dx, h = (height - y + dy - 1) / dy;
                if (w > 0 && h > 0)
                {
                    AddRows(rows, h, 1 + (((w * bitsPerPixel) + 7) / 8));
                }
            }
        }
        else
        {
            AddRows(rows, height, 1 + (((width * bitsPerPixel) + 7) / 8));
        }
        if (rows.Count == 0)
        {
            return file;
        }

        // The IDAT data as PngImageFile.load_read hands it over: consecutive IDAT (or DDAT) chunks, one chunk per read.
        var pieces = new List<(int Offset, int Length)>();
        int q = p;
        bool ddat = false, cut = false;
        while (file.Length - q >= 8)
        {
            uint length = BinaryPrimitives.ReadUInt32BigEndian(file.AsSpan(q));
            bool isDdat = file.AsSpan(q + 4, 4).SequenceEqual("DDAT"u8);
            if (!isDdat && !file.AsSpan(q + 4, 4).SequenceEqual("IDAT"u8))
            {
                break;
            }
            ddat |= isDdat;
            int available = (int)Math.Min(length, (uint)(file.Length - q - 8));
            pieces.Add((q + 8, available));
            if (available < length)
            {
                q = file.Length;
                cut = true;
                break;
            }
            q = (int)Math.Min(file.Length, q + 12L + length);
        }
        string? problem = Inflate(file, pieces, rows, out bool complete, out long inflated, out int lastPiece, out bool clean);
        if (problem is not null)
        {
            throw new ImageDecodeException(source, problem);
        }
        if (!complete)
        {
            throw new ImageDecodeException(source, "image file is truncated: the PNG's image data ends before its last row");
        }

        if (cut && lastPiece < pieces.Count - 1)
        {
            // PngImageFile.load_end reads the image data chunks the decoder did not need whole, like any other.
            throw new ImageDecodeException(source, "Truncated File Read: PNG chunk IDAT after the image data is cut short");
        }

        // Chunks after the image data: Pillow reads each one whole (no CRC check) until IEND or a malformed header.
        int trailing = q;
        int exifAfter = -1;
        while (file.Length - q >= 8)
        {
            uint length = BinaryPrimitives.ReadUInt32BigEndian(file.AsSpan(q));
            ReadOnlySpan<byte> type = file.AsSpan(q + 4, 4);
            if (!IsChunkType(type) || type.SequenceEqual("IEND"u8))
            {
                break;
            }
            if (length > file.Length - q - 8)
            {
                throw new ImageDecodeException(source, $"Truncated File Read: PNG chunk {System.Text.Encoding.ASCII.GetString(type)} after the image data is cut short");
            }
            if (type.SequenceEqual("eXIf"u8))
            {
                exifAfter = q;
            }
            q = (int)Math.Min(file.Length, q + 12L + length); // the CRC may be missing: Pillow's read of it just comes back short
        }
        // exif_transpose loads the image for an eXIf after the image data (the last one counts) only when there is
        // none before it, so the rebuilt file carries that one before the image data; ImageSharp takes the last eXIf
        // in the file, so none is left after the image data (where one precedes it, those after it are dropped).
        bool exifsAfter = exifAfter >= 0;
        if (exifBefore)
        {
            exifAfter = -1;
        }
        long needed = 0;
        foreach (long length in rows)
        {
            needed += length;
        }
        bool regular = inflated == needed && clean && !ddat && !exifsAfter && pieces.TrueForAll(piece => piece.Length > 0)
            && file.Length - q >= 12 && file.AsSpan(q, 8).SequenceEqual("\0\0\0\0IEND"u8);
        byte[] padded = PadPalette(file, p, plteAt, colorType, depth, source);
        if (interlace != 0 && width <= 4)
        {
            // ImageSharp 2.1 mishandles an Adam7 pass with no columns but some rows: on these valid files it hangs
            // (1x1, 2x1, 1x2, 1x7), refuses them or misplaces pixels. Pillow reads them: hand ImageSharp the same
            // pixels as a plain PNG, de-interlaced here (rows are at most 4 pixels, so this is cheap).
            using var filtered = new MemoryStream();
            Inflate(file, pieces, rows, out _, out _, out _, out _, filtered);
            filtered.SetLength(needed); // what the stream lacks is zero rows, as Rebuild gives
            byte[] plain = Deinterlace(filtered.GetBuffer(), width, height, depth * channels);
            using var zlib = new MemoryStream();
            using (var deflate = new ZLibStream(zlib, CompressionLevel.Fastest, leaveOpen: true))
            {
                deflate.Write(plain);
            }
            return Emit(SetInterlace(padded, ihdrAt, 0), p, file, zlib, trailing, q, exifAfter);
        }
        byte[] repaired = interlace is 0 or 1 ? padded : SetInterlace(padded, ihdrAt, 1);
        if (regular)
        {
            return RepairCrcs(repaired, p + repaired.Length - file.Length);
        }
        // ImageSharp refuses an empty IDAT, an IDAT or an IEND cut short, and hangs on short interlaced data, where
        // Pillow reads what the stream gives: hand it the rows Pillow decoded, zeros for the rest, in a clean file.
        return Rebuild(repaired, p, file, pieces, rows, needed, trailing, q, exifAfter);
    }

    /// <summary>
    /// Pillow gives palette indices past the PLTE entries the grey of a new palette's ramp (i, i, i); ImageSharp
    /// does not, so a short PLTE is padded with that ramp up to the indices the bit depth allows.
    /// </summary>
    private static byte[] PadPalette(byte[] file, int firstIdat, int plteAt, int colorType, int depth, string source)
    {
        if (colorType != 3 || depth > 8)
        {
            return file;
        }
        int limit = 1 << depth;
        // The last PLTE is padded; with none, Pillow's palette is the whole ramp, in a PLTE put before the first IDAT.
        int at = plteAt >= 0 ? plteAt : firstIdat;
        int length = plteAt >= 0 ? (int)BinaryPrimitives.ReadUInt32BigEndian(file.AsSpan(plteAt)) : 0;
        // putpalette takes whole entries only (8 bytes are 2 entries) and no more than 256 of them.
        int entries = length / 3;
        if (entries > 256)
        {
            throw new ImageDecodeException(source, $"invalid palette size ({entries} PLTE entries)");
        }
        int kept = Math.Max(entries, limit);
        if (at < firstIdat && kept * 3 == length)
        {
            return file;
        }
        int old = at < firstIdat ? 12 + length : 0;
        byte[] padded = new byte[file.Length - old + 12 + (kept * 3)];
        file.AsSpan(0, at).CopyTo(padded);
        BinaryPrimitives.WriteUInt32BigEndian(padded.AsSpan(at), (uint)(kept * 3));
        "PLTE"u8.CopyTo(padded.AsSpan(at + 4));
        file.AsSpan(at + 8, entries * 3).CopyTo(padded.AsSpan(at + 8));
        for (int i = entries; i < kept; i++)
        {
            padded[at + 8 + (i * 3)] = padded[at + 8 + (i * 3) + 1] = padded[at + 8 + (i * 3) + 2] = (byte)i;
        }
        int crcAt = at + 8 + (kept * 3);
        BinaryPrimitives.WriteUInt32BigEndian(padded.AsSpan(crcAt), Crc(padded.AsSpan(at + 4, 4 + (kept * 3))));
        file.AsSpan(at + old).CopyTo(padded.AsSpan(crcAt + 4));
        return padded;
    }

    /// <summary>
    /// A copy whose IHDR says interlace method <paramref name="method"/>: ImageSharp reads only method 1 as Adam7,
    /// Pillow any non-zero one; and a de-interlaced file says 0.
    /// </summary>
    private static byte[] SetInterlace(byte[] file, int ihdrAt, byte method)
    {
        byte[] copy = (byte[])file.Clone();
        int length = (int)BinaryPrimitives.ReadUInt32BigEndian(copy.AsSpan(ihdrAt));
        copy[ihdrAt + 8 + 12] = method;
        BinaryPrimitives.WriteUInt32BigEndian(copy.AsSpan(ihdrAt + 8 + length), Crc(copy.AsSpan(ihdrAt + 4, 4 + length)));
        return copy;
    }

    /// <summary>
    /// A clean PNG for ImageSharp: the chunks before the image data (from <paramref name="head"/>, which may hold a
    /// padded PLTE, so its first IDAT sits <c>head.Length - file.Length</c> later), the rows Pillow inflates followed by
    /// zero rows in fresh IDAT chunks, the complete chunks after the image data but eXIf (see Check), and an IEND.
    /// </summary>
    private static byte[] Rebuild(byte[] head, int firstIdat, byte[] file, List<(int Offset, int Length)> pieces, List<long> rows, long needed, int trailing, int trailingEnd, int exifAfter)
    {
        using var zlib = new MemoryStream();
        using (var deflate = new ZLibStream(zlib, CompressionLevel.Fastest, leaveOpen: true))
        {
            Inflate(file, pieces, rows, out _, out long inflated, out _, out _, deflate);
            byte[] zeros = new byte[64 * 1024];
            for (long left = needed - inflated; left > 0; left -= zeros.Length)
            {
                deflate.Write(zeros, 0, (int)Math.Min(left, zeros.Length));
            }
        }
        return Emit(head, firstIdat, file, zlib, trailing, trailingEnd, exifAfter);
    }

    /// <summary>The rebuilt file around the compressed image data in <paramref name="zlib"/> (see <see cref="Rebuild"/>).</summary>
    private static byte[] Emit(byte[] head, int firstIdat, byte[] file, MemoryStream zlib, int trailing, int trailingEnd, int exifAfter)
    {
        int shift = head.Length - file.Length;
        using var output = new MemoryStream();
        output.Write(head, 0, firstIdat + shift);
        if (exifAfter >= 0)
        {
            WriteChunk(output, "eXIf"u8, file.AsSpan(exifAfter + 8, (int)BinaryPrimitives.ReadUInt32BigEndian(file.AsSpan(exifAfter))));
        }
        byte[] compressed = zlib.GetBuffer();
        const int MaxChunk = 1 << 20;
        for (int at = 0; at < zlib.Length; at += MaxChunk)
        {
            WriteChunk(output, "IDAT"u8, compressed.AsSpan(at, (int)Math.Min(MaxChunk, zlib.Length - at)));
        }
        for (int q = trailing; q < trailingEnd;)
        {
            int length = (int)BinaryPrimitives.ReadUInt32BigEndian(file.AsSpan(q));
            if (!file.AsSpan(q + 4, 4).SequenceEqual("eXIf"u8))
            {
                WriteChunk(output, file.AsSpan(q + 4, 4), file.AsSpan(q + 8, length));
            }
            q += 12 + length;
        }
        WriteChunk(output, "IEND"u8, []);
        return output.ToArray();
    }

    /// <summary>
    /// Adam7 filtered rows (<paramref name="filtered"/>, pass after pass) unfiltered and placed as plain rows, each
    /// with filter type 0: what libpng's or Pillow's de-interlacing gives.
    /// </summary>
    private static byte[] Deinterlace(byte[] filtered, int width, int height, int bits)
    {
        int lineBytes = ((width * bits) + 7) / 8;
        int bpp = Math.Max(1, bits / 8);
        byte[] plain = new byte[(long)height * (lineBytes + 1)];
        long at = 0;
        foreach ((int x0, int y0, int dx, int dy) in PngInterlaceGuard.Passes)
        {
            int w = (width - x0 + dx - 1) / dx, h = (height - y0 + dy - 1) / dy;
            if (w <= 0 || h <= 0)
            {
                continue; // an empty pass has no rows in the stream, not even filter bytes
            }
            int passBytes = ((w * bits) + 7) / 8;
            byte[] line = new byte[passBytes], prior = new byte[passBytes];
            for (int r = 0; r < h; r++, at += 1 + passBytes)
            {
                int filter = filtered[at];
                filtered.AsSpan((int)at + 1, passBytes).CopyTo(line);
                for (int i = 0; i < passBytes; i++)
                {
                    int a = i >= bpp ? line[i - bpp] : 0, b = prior[i], c = i >= bpp ? prior[i - bpp] : 0;
                    line[i] += (byte)(filter switch
                    {
                        1 => a,
                        2 => b,
                        3 => (a + b) >> 1,
                        4 => Paeth(a, b, c),
                        _ => 0,
                    });
                }
                long row = ((long)(y0 + (r * dy)) * (lineBytes + 1)) + 1;
                for (int k = 0; k < w; k++)
                {
                    int x = x0 + (k * dx);
                    if (bits >= 8)
                    {
                        line.AsSpan(k * bpp, bpp).CopyTo(plain.AsSpan((int)(row + (x * bpp)), bpp));
                    }
                    else
                    {
                        int value = (line[k * bits / 8] >> (8 - bits - (k * bits % 8))) & ((1 << bits) - 1);
                        plain[row + (x * bits / 8)] |= (byte)(value << (8 - bits - (x * bits % 8)));
                    }
                }
                (line, prior) = (prior, line);
            }
        }
        return plain;
    }

    private static int Paeth(int a, int b, int c)
    {
        int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }

    private static void WriteChunk(Stream output, ReadOnlySpan<byte> type, ReadOnlySpan<byte> data)
    {
        Span<byte> number = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(number, (uint)data.Length);
        output.Write(number);
        byte[] typeAndData = new byte[4 + data.Length];
        type.CopyTo(typeAndData);
        data.CopyTo(typeAndData.AsSpan(4));
        output.Write(typeAndData);
        BinaryPrimitives.WriteUInt32BigEndian(number, Crc(typeAndData));
        output.Write(number);
    }

    private static void AddRows(List<long> rows, long count, long length)
    {
        for (long i = 0; i < count; i++)
        {
            rows.Add(length);
        }
    }

    private static bool IsChunkType(ReadOnlySpan<byte> type)
    {
        // Pillow's is_cid: four regex word characters.
        foreach (byte b in type)
        {
            if (!(b is >= (byte)'a' and <= (byte)'z' or >= (byte)'A' and <= (byte)'Z' or >= (byte)'0' and <= (byte)'9' or (byte)'_'))
            {
                return false;
            }
        }
        return type.Length == 4;
    }

    private static readonly uint[] CrcTable = BuildCrcTable();

    private static uint[] BuildCrcTable()
    {
        uint[] table = new uint[256];
        for (uint n = 0; n < 256; n++)
        {
            uint c = n;
            for (int k = 0; k < 8; k++)
            {
                c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            }
            table[n] = c;
        }
        return table;
    }

    private static uint Crc(ReadOnlySpan<byte> typeAndData)
    {
        uint c = 0xFFFFFFFFu;
        foreach (byte b in typeAndData)
        {
            c = CrcTable[(c ^ b) & 0xFF] ^ (c >> 8);
        }
        return c ^ 0xFFFFFFFFu;
    }

    /// <summary>Inflates row by row as libImaging's ZipDecode does; null when fine, else Pillow's reason.</summary>
    /// <param name="file">The PNG.</param>
    /// <param name="pieces">The IDAT data, as <see cref="PieceStream"/> hands it over.</param>
    /// <param name="rows">The filtered rows' lengths, in stream order.</param>
    /// <param name="complete">Whether Pillow's decoder finishes (every row, or a stream that ends on a row boundary).</param>
    /// <param name="inflated">How many bytes of rows were read whole.</param>
    /// <param name="lastPiece">The piece the decoder stopped in (the chunks after it are read whole).</param>
    /// <param name="clean">Whether what follows the rows inflates without an error (ImageSharp reads it, Pillow does not).</param>
    /// <param name="rowsOut">Where those rows go, if anywhere.</param>
    private static string? Inflate(byte[] file, List<(int Offset, int Length)> pieces, List<long> rows, out bool complete, out long inflated, out int lastPiece, out bool clean, Stream? rowsOut = null)
    {
        complete = false;
        inflated = 0;
        clean = true;
        var input = new PieceStream(file, pieces);
        lastPiece = 0;
        try
        {
            using var inflate = new ZLibStream(input, CompressionMode.Decompress);
            byte[] row = new byte[(int)Math.Min(rows.Max(), 1L << 30)];
            uint adler = 1;
            long total = 0;
            foreach (long length in rows)
            {
                int got = inflate.ReadAtLeast(row.AsSpan(0, (int)length), (int)length, throwOnEndOfStream: false);
                if (got == 0 && total > 0 && EndsProperly(file, pieces, adler))
                {
                    // ZipDecode stops without an error when the zlib stream ends on a row boundary (later rows stay black).
                    complete = true;
                    lastPiece = input.Piece;
                    return null;
                }
                if (got < length)
                {
                    return null;
                }
                adler = Adler32(adler, row.AsSpan(0, (int)length));
                total += length;
                if (row[0] > 4)
                {
                    return $"unrecognized data stream contents when reading image file (PNG filter type {row[0]})";
                }
                rowsOut?.Write(row, 0, (int)length);
                inflated = total;
            }
            complete = true;
            lastPiece = input.Piece;
            clean = Drains(inflate, row);
            return null;
        }
        catch (Exception e) when (e is InvalidDataException or IOException)
        {
            return $"broken data stream when reading image file (the PNG's zlib data: {e.Message})";
        }
    }

    /// <summary>Whether the rest of the stream (its Adler-32, at most 64 KiB of extra data) inflates without an error.</summary>
    private static bool Drains(Stream inflate, byte[] buffer)
    {
        try
        {
            long extra = 0;
            int n;
            while ((n = inflate.Read(buffer, 0, buffer.Length)) > 0)
            {
                extra += n;
                if (extra > 1 << 16)
                {
                    return false;
                }
            }
            return true;
        }
        catch (Exception e) when (e is InvalidDataException or IOException)
        {
            return false;
        }
    }

    private static uint Adler32(uint adler, ReadOnlySpan<byte> data)
    {
        uint a = adler & 0xFFFF, b = adler >> 16;
        foreach (byte x in data)
        {
            a = (a + x) % 65521;
            b = (b + a) % 65521;
        }
        return (b << 16) | a;
    }

    /// <summary>
    /// Whether the zlib stream really ended (rather than the data running out): its Adler-32 of everything
    /// inflated so far follows in the IDAT data (.NET's inflater reports both as the end of the stream).
    /// </summary>
    private static bool EndsProperly(byte[] file, List<(int Offset, int Length)> pieces, uint adler)
    {
        var all = new List<byte>();
        foreach ((int offset, int length) in pieces)
        {
            all.AddRange(file.AsSpan(offset, length).ToArray());
        }
        Span<byte> check = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(check, adler);
        return all.Count >= 6 && System.Runtime.InteropServices.CollectionsMarshal.AsSpan(all)[2..].IndexOf(check) >= 0;
    }

    /// <summary>ImageSharp checks CRCs that Pillow does not (IDAT, IEND and all after the first IDAT): recompute them.</summary>
    private static byte[] RepairCrcs(byte[] file, int firstIdat)
    {
        byte[]? copy = null;
        int q = firstIdat;
        while (file.Length - q >= 12)
        {
            uint length = BinaryPrimitives.ReadUInt32BigEndian(file.AsSpan(q));
            if (length > file.Length - q - 12)
            {
                break;
            }
            int crcAt = q + 8 + (int)length;
            uint crc = Crc(file.AsSpan(q + 4, 4 + (int)length));
            if (BinaryPrimitives.ReadUInt32BigEndian(file.AsSpan(crcAt)) != crc)
            {
                copy ??= (byte[])file.Clone();
                BinaryPrimitives.WriteUInt32BigEndian(copy.AsSpan(crcAt), crc);
            }
            q = crcAt + 4;
        }
        return copy ?? file;
    }

    /// <summary>The IDAT chunks' data, at most one chunk per read (the buffers Pillow's decoder sees).</summary>
    private sealed class PieceStream(byte[] file, List<(int Offset, int Length)> pieces) : Stream
    {
        private int _piece, _within;

        /// <summary>The piece the last read came from.</summary>
        public int Piece => Math.Min(_piece, pieces.Count - 1);

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            while (_piece < pieces.Count && _within == pieces[_piece].Length)
            {
                _piece++;
                _within = 0;
            }
            if (_piece == pieces.Count)
            {
                return 0;
            }
            int n = Math.Min(count, pieces[_piece].Length - _within);
            Buffer.BlockCopy(file, pieces[_piece].Offset + _within, buffer, offset, n);
            _within += n;
            return n;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
