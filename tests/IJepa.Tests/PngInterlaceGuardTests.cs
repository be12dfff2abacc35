using System.Buffers.Binary;
using System.IO.Compression;
using IJepa.Preprocessing;

namespace IJepa.Tests;

/// <summary>
/// <see cref="PngInterlaceGuard"/> on Adam7 files built here chunk by chunk (it reads no CRC, so they are left zero):
/// what it must leave to ImageSharp (a header cut short, an unknown colour type), and where it must stop reading (the
/// last chunk, a chunk cut short after the image data, zlib data past the rows). The corpus cases are in
/// <see cref="PngMutantTests"/>.
/// </summary>
public class PngInterlaceGuardTests
{
    // A 64 × 64 RGB Adam7 image of noise: its zlib data (12.4 KB) is more than one read of the inflater's input
    // (8 KB), so the rows come out of more than one Read call.
    private const int Width = 64, Height = 64, Colour = 2;

    // The filtered bytes the header asks for, counted independently of the guard.
    private static long Expected() => PngMutantTests.Expected(Header());

    private static byte[] Chunk(string type, byte[] data)
    {
        byte[] chunk = new byte[12 + data.Length];
        BinaryPrimitives.WriteUInt32BigEndian(chunk, (uint)data.Length);
        System.Text.Encoding.ASCII.GetBytes(type).CopyTo(chunk, 4);
        data.CopyTo(chunk, 8);
        return chunk;
    }

    private static byte[] Header(int colour = Colour)
    {
        byte[] ihdr = new byte[13];
        BinaryPrimitives.WriteUInt32BigEndian(ihdr, Width);
        BinaryPrimitives.WriteUInt32BigEndian(ihdr.AsSpan(4), Height);
        (ihdr[8], ihdr[9], ihdr[12]) = (8, (byte)colour, 1);
        return [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A, .. Chunk("IHDR", ihdr)];
    }

    private static byte[] Zlib(int bytes)
    {
        using var output = new MemoryStream();
        using (var zlib = new ZLibStream(output, CompressionLevel.Optimal, leaveOpen: true))
        {
            byte[] noise = new byte[bytes];
            new Random(64).NextBytes(noise);
            zlib.Write(noise);
        }
        return output.ToArray();
    }

    private static void Passes(byte[] file)
    {
        using var stream = new MemoryStream(file);
        PngInterlaceGuard.Check(stream, "built.png");
        Assert.Equal(0, stream.Position);
    }

    [Fact]
    public void The_built_file_is_checked_at_all()
    {
        // The baseline the tests below rely on: one row short is refused.
        byte[] file = [.. Header(), .. Chunk("IDAT", Zlib((int)Expected() - 1)), .. Chunk("IEND", [])];
        var refusal = Assert.Throws<ImageDecodeException>(() => PngInterlaceGuard.Check(new MemoryStream(file), "built.png"));
        Assert.Equal($"truncated interlaced PNG: {Expected() - 1:N0} of {Expected():N0} bytes of pixel data", refusal.Problem);
    }

    [Fact]
    public void A_header_cut_short_is_left_to_ImageSharp()
    {
        // 32 of the 33 bytes the guard reads first: the interlace flag is there, the IHDR's CRC is not.
        byte[] file = Header();
        Assert.Equal(1, file[28]);
        Passes(file[..32]);
    }

    [Fact]
    public void An_unknown_colour_type_is_left_to_ImageSharp() =>
        Passes([.. Header(colour: 1), .. Chunk("IEND", [])]);

    [Fact]
    public void An_image_data_chunk_ending_the_file_is_read() =>
        Passes([.. Header(), .. Chunk("IDAT", Zlib((int)Expected()))]);

    [Fact]
    public void A_chunk_cut_short_after_the_image_data_is_not_read()
    {
        byte[] cut = Chunk("IDAT", new byte[40]); // 12 of its 52 bytes missing: under 24, so a bound off by 24 would read on
        Passes([.. Header(), .. Chunk("IDAT", Zlib((int)Expected())), .. cut[..40]]);
    }

    [Fact]
    public void Nothing_past_the_rows_is_inflated()
    {
        // The rows and 100 bytes more, with a wrong Adler-32: reading past the rows would find it.
        byte[] data = Zlib((int)Expected() + 100);
        data[^1] ^= 0xFF;
        Passes([.. Header(), .. Chunk("IDAT", data), .. Chunk("IEND", [])]);
    }
}
