using System.Buffers.Binary;
using System.IO.Compression;

namespace IJepa.Preprocessing;

/// <summary>
/// ImageSharp 2.1's decoder loops forever on an Adam7-interlaced PNG whose image data ends early, and
/// it does not observe cancellation there (a 1.2 KB file hung it; found by fuzzing). Before such a file
/// reaches ImageSharp, its IDAT stream is inflated here, up to the size the header implies and no
/// further, and a short stream is refused. Non-interlaced PNGs are not affected and pass untouched.
/// </summary>
internal static class PngInterlaceGuard
{
    internal static readonly (int X, int Y, int DX, int DY)[] Passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)];

    /// <summary>Checks the PNG at the stream's position (restored afterwards).</summary>
    /// <exception cref="ImageDecodeException">An interlaced PNG whose pixel data is shorter than its header says.</exception>
    public static void Check(Stream stream, string source)
    {
        long start = stream.Position;
        try
        {
            // The signature and IHDR first: only interlaced files are read further.
            byte[] head = new byte[33];
            if (stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false) < head.Length || !head.AsSpan(12, 4).SequenceEqual("IHDR"u8))
            {
                return; // ImageSharp reports malformed headers itself
            }
            uint width = BinaryPrimitives.ReadUInt32BigEndian(head.AsSpan(16)), height = BinaryPrimitives.ReadUInt32BigEndian(head.AsSpan(20));
            int depth = head[24], colour = head[25], interlace = head[28];
            if (interlace != 1)
            {
                return;
            }
            stream.Position = start;
            byte[] data = new byte[stream.Length - start];
            stream.ReadExactly(data);
            int channels = colour switch { 0 => 1, 2 => 3, 3 => 1, 4 => 2, 6 => 4, _ => 0 };
            if (channels == 0 || depth is not (1 or 2 or 4 or 8 or 16))
            {
                return;
            }
            long expected = 0;
            foreach ((int x, int y, int dx, int dy) in Passes)
            {
                long columns = width > x ? ((width - x) + dx - 1) / dx : 0;
                long rows = height > y ? ((height - y) + dy - 1) / dy : 0;
                if (columns > 0 && rows > 0)
                {
                    expected += rows * (1 + (((columns * channels * depth) + 7) / 8));
                }
            }
            using var idat = new MemoryStream();
            for (long at = 8; at + 12 <= data.Length;)
            {
                long length = BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan((int)at));
                if (at + 12 + length > data.Length)
                {
                    break;
                }
                if (data.AsSpan((int)at + 4, 4).SequenceEqual("IDAT"u8))
                {
                    idat.Write(data, (int)at + 8, (int)length);
                }
                at += 12 + length;
            }
            idat.Position = 0;
            long inflated = 0;
            try
            {
                using var zlib = new ZLibStream(idat, CompressionMode.Decompress);
                byte[] buffer = new byte[1 << 16];
                while (inflated < expected)
                {
                    int read = zlib.Read(buffer, 0, (int)Math.Min(buffer.Length, expected - inflated));
                    if (read == 0)
                    {
                        break;
                    }
                    inflated += read;
                }
            }
            catch (InvalidDataException e)
            {
                throw new ImageDecodeException(source, $"corrupt interlaced PNG data: {e.Message}", e);
            }
            if (inflated < expected)
            {
                throw new ImageDecodeException(source, $"truncated interlaced PNG: {inflated:N0} of {expected:N0} bytes of pixel data");
            }
        }
        finally
        {
            stream.Position = start;
        }
    }
}
