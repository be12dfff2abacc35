using System.Buffers.Binary;

namespace IJepa.Preprocessing;

/// <summary>
/// ImageSharp 2.1 sizes a BMP's colour table from the file header's pixel-data offset and allocates
/// it before checking that the offset lies inside the file: a 1.7 KB file made Image.Identify allocate
/// 1.1 GB (found by fuzzing). The offset is checked here first, against the stream's length.
/// </summary>
internal static class BmpHeaderGuard
{
    /// <summary>Checks a stream that starts (at its position) with "BM"; the position is restored.</summary>
    /// <exception cref="ImageDecodeException">The pixel data would start beyond the end of the file.</exception>
    public static void Check(Stream stream, string source)
    {
        long start = stream.Position;
        Span<byte> header = stackalloc byte[14];
        int read = stream.ReadAtLeast(header, header.Length, throwOnEndOfStream: false);
        stream.Position = start;
        if (read < header.Length || header[0] != (byte)'B' || header[1] != (byte)'M')
        {
            return;
        }
        uint offset = BinaryPrimitives.ReadUInt32LittleEndian(header[10..]);
        long length = stream.Length - start;
        if (offset > length)
        {
            throw new ImageDecodeException(source, $"corrupt BMP: the pixel data would start at byte {offset:N0} of a {length:N0}-byte file");
        }
    }
}
