using System.Globalization;

namespace IJepa.Preprocessing;

/// <summary>
/// Portable anymaps (P1–P6) read as Pillow 9.4's PpmImagePlugin reads them, then converted to RGB as
/// <c>convert("RGB")</c> does. What differs from ImageSharp's PBM decoder, and matters for the numbers:
/// <list type="bullet">
/// <item>Samples are rescaled to 8 bits by <c>round(v / maxval * 255)</c> (round half to even) unless maxval is 255;
/// samples above maxval clip to 255.</item>
/// <item>Grey images with a maxval above 255 become 32-bit integer images (rescaled to 16 bits unless maxval is
/// 65535) whose conversion to RGB clips at 255, as the PNG loader's 16-bit grey does.</item>
/// <item>Short pixel data is refused, never padded; extra bytes are ignored.</item>
/// <item>The plain (ASCII) formats follow Pillow's block reader, quirks included: a comment is cut out together
/// with its line end, so digits on both sides join; a value above maxval is an error; and when the data ends in
/// the middle of a token while values are still missing, that token repeats until the image is full.</item>
/// </list>
/// Pillow's private extensions (P0CMYK, PyP, PyRGBA, PyCMYK) and PAM (P7) are not read.
/// </summary>
internal static class PillowPnm
{
    // Pillow reads plain data in blocks of ImageFile.SAFEBLOCK bytes; comments and tokens cut by a block's end
    // behave differently from ones inside a block, so the blocks are the same here.
    private const int Block = 1024 * 1024;
    private const int MaxToken = 10;

    /// <summary>Whether Pillow's PPM plugin would claim the file: "P" and a digit from 1 to 6.</summary>
    public static bool Handles(ReadOnlySpan<byte> head) => head.Length >= 2 && head[0] == (byte)'P' && head[1] is >= (byte)'1' and <= (byte)'6';

    private static bool IsSpace(byte b) => b is 0x20 or 0x09 or 0x0A or 0x0B or 0x0C or 0x0D;

    public static RgbImage Decode(ReadOnlySpan<byte> file, string source, long maxPixels)
    {
        if (!Handles(file) || (file.Length > 2 && !IsSpace(file[2])))
        {
            throw new ImageDecodeException(source, "cannot identify image file: not a portable anymap (P1 to P6)");
        }
        char kind = (char)file[1];
        bool plain = kind <= '3';
        bool bitonal = kind is '1' or '4';
        int bands = kind is '3' or '6' ? 3 : 1;
        int position = Math.Min(file.Length, 3);

        long width = HeaderNumber(file, ref position, source);
        long height = HeaderNumber(file, ref position, source);
        int maxval = 1;
        if (!bitonal)
        {
            long value = HeaderNumber(file, ref position, source);
            if (value is <= 0 or >= 65536)
            {
                throw new ImageDecodeException(source, "maxval must be greater than 0 and less than 65536");
            }
            maxval = (int)value;
        }
        if (width < 1 || height < 1)
        {
            throw new ImageDecodeException(source, $"cannot identify image file: the image claims {width}x{height} pixels");
        }
        // Pillow's decompression-bomb check comes next and refuses sizes past int.MaxValue as well, so ours does
        // too. Two ten-digit sizes overflow a long; their product fits a decimal.
        decimal pixels = (decimal)width * height;
        if (pixels > maxPixels)
        {
            throw new ImageDecodeException(source,
                $"{width}x{height} = {pixels:N0} pixels exceeds the limit of {maxPixels:N0} (a possible decompression bomb; raise PreprocessingOptions.MaxPixels to allow it)");
        }
        if (width > int.MaxValue || height > int.MaxValue)
        {
            // Only under a pixel limit above int.MaxValue; Pillow without its bomb check overflows here.
            throw new ImageDecodeException(source, $"signed integer is greater than maximum: the image claims {width}x{height} pixels");
        }
        int w = (int)width;
        int h = (int)height;
        // Grey with more than 8 bits becomes Pillow's mode "I": 16-bit values whose RGB conversion clips at 255.
        bool wide = bands == 1 && maxval > 255;
        ReadOnlySpan<byte> data = file[position..];

        RgbImage result = RgbImage.Rent(w, h);
        try
        {
            Span<byte> rgb = result.Data;
            long samples = (long)w * h * bands;
            if (bitonal)
            {
                if (plain)
                {
                    PlainBitonal(data, rgb, w * h, source);
                }
                else
                {
                    RawBitonal(data, rgb, w, h, source);
                }
            }
            else if (plain)
            {
                PlainSamples(data, rgb, (int)samples, bands, maxval, wide, source);
            }
            else
            {
                RawSamples(data, rgb, (int)samples, bands, maxval, wide, source);
            }
            return result;
        }
        catch
        {
            result.Release();
            throw;
        }
    }

    // Pillow's header token: whitespace before it skipped, '#' to the end of the line ignored (even inside a
    // token, which then continues after the line), at most ten characters, then Python's int().
    private static long HeaderNumber(ReadOnlySpan<byte> file, ref int position, string source)
    {
        Span<byte> token = stackalloc byte[MaxToken + 1];
        int length = 0;
        while (length <= MaxToken && position < file.Length)
        {
            byte c = file[position++];
            if (IsSpace(c))
            {
                if (length == 0)
                {
                    continue;
                }
                break;
            }
            if (c == (byte)'#')
            {
                while (position < file.Length && file[position] is not ((byte)'\r' or (byte)'\n'))
                {
                    position++;
                }
                position = Math.Min(file.Length, position + 1);
                continue;
            }
            token[length++] = c;
        }
        if (length == 0)
        {
            throw new ImageDecodeException(source, "Reached EOF while reading header");
        }
        if (length > MaxToken)
        {
            // Pillow decodes the token as UTF-8 here (and fails on bytes that are not: a known difference).
            throw new ImageDecodeException(source, $"Token too long in file header: {System.Text.Encoding.UTF8.GetString(token[..length])}");
        }
        return PythonInt(token[..length]) ?? throw IntError(token[..length], source);
    }

    private static ImageDecodeException IntError(ReadOnlySpan<byte> token, string source) =>
        new(source, $"invalid literal for int() with base 10: {Repr(token)}");

    // Python's repr of bytes, as Pillow's messages about tokens show them: b'...', or b"..." when only single
    // quotes occur; a backslash and the quote escaped, bytes outside printable ASCII as \xhh. Tokens never hold
    // whitespace, so \t, \n and \r do not arise.
    private static string Repr(ReadOnlySpan<byte> bytes)
    {
        char quote = bytes.Contains((byte)'\'') && !bytes.Contains((byte)'"') ? '"' : '\'';
        var text = new System.Text.StringBuilder("b").Append(quote);
        foreach (byte b in bytes)
        {
            text.Append(b == quote || b == (byte)'\\' ? $"\\{(char)b}" : b is >= 0x20 and < 0x7F ? ((char)b).ToString() : $"\\x{b:x2}");
        }
        return text.Append(quote).ToString();
    }

    // A message Pillow raises as bytes: the text of its repr.
    private static string BytesMessage(string prefix, ReadOnlySpan<byte> bytes)
    {
        string repr = Repr([.. System.Text.Encoding.ASCII.GetBytes(prefix), .. bytes]);
        return repr[2..^1];
    }

    // int(b"...") in Python: an optional sign, then ASCII digits with single underscores between them.
    private static long? PythonInt(ReadOnlySpan<byte> token)
    {
        int i = 0;
        bool negative = false;
        if (token.Length > 0 && token[0] is (byte)'+' or (byte)'-')
        {
            negative = token[0] == (byte)'-';
            i = 1;
        }
        long value = 0;
        bool digitBefore = false;
        int digits = 0;
        for (; i < token.Length; i++)
        {
            byte c = token[i];
            if (c == (byte)'_')
            {
                if (!digitBefore)
                {
                    return null;
                }
                digitBefore = false;
                continue;
            }
            if (c is < (byte)'0' or > (byte)'9')
            {
                return null;
            }
            value = (value * 10) + (c - '0');
            digitBefore = true;
            digits++;
        }
        return digits == 0 || !digitBefore ? null : negative ? -value : value;
    }

    private static byte Scale(long value, int maxval) => (byte)Math.Min(255, Math.Round((double)value / maxval * 255));

    // Mode "I" keeps 16 bits (rescaled unless maxval is 65535); the RGB conversion then clips at 255.
    private static byte Wide(long value, int maxval) =>
        (byte)Math.Min(255, maxval == 65535 ? value : Math.Min(65535, Math.Round((double)value / maxval * 65535)));

    private static void RawBitonal(ReadOnlySpan<byte> data, Span<byte> rgb, int width, int height, string source)
    {
        int stride = (width + 7) / 8;
        if (data.Length < (long)stride * height)
        {
            throw new ImageDecodeException(source, $"image file is truncated: the PBM pixel data has {data.Length} of {(long)stride * height} bytes");
        }
        for (int y = 0; y < height; y++)
        {
            ReadOnlySpan<byte> row = data.Slice(y * stride, stride);
            Span<byte> output = rgb.Slice(y * width * 3, width * 3);
            for (int x = 0; x < width; x++)
            {
                // A set bit is black.
                byte v = (row[x >> 3] & (0x80 >> (x & 7))) != 0 ? (byte)0 : (byte)255;
                output[(3 * x)..(3 * x + 3)].Fill(v);
            }
        }
    }

    private static void RawSamples(ReadOnlySpan<byte> data, Span<byte> rgb, int samples, int bands, int maxval, bool wide, string source)
    {
        int size = maxval < 256 ? 1 : 2;
        long needed = (long)samples * size;
        if (data.Length < needed)
        {
            // Pillow's raw decoder (maxval 255, or 65535 for grey) calls this a truncated file; its Python decoder
            // for the other maxvals stops at the last whole pixel and finds too little data.
            bool raw = maxval == 255 || (wide && maxval == 65535);
            throw new ImageDecodeException(source, raw
                ? $"image file is truncated: the pixel data has {data.Length} of {needed} bytes"
                : $"not enough image data: the pixel data has {data.Length} of {needed} bytes");
        }
        for (int i = 0; i < samples; i++)
        {
            long v = size == 1 ? data[i] : (data[2 * i] << 8) | data[(2 * i) + 1];
            byte b = wide ? Wide(v, maxval) : maxval == 255 ? (byte)v : Scale(v, maxval);
            Put(rgb, i, bands, b);
        }
    }

    private static void Put(Span<byte> rgb, int sample, int bands, byte value)
    {
        if (bands == 3)
        {
            rgb[sample] = value;
        }
        else
        {
            rgb[(3 * sample)..(3 * sample + 3)].Fill(value);
        }
    }

    // Pillow's comment removal for one block: a comment left open by the previous block ends at this block's first
    // line end; every comment inside the block goes with its line end; one left open here continues into the next.
    private static List<byte> WithoutComments(ReadOnlySpan<byte> file, ref int position, List<byte> block, ref bool commentOpen)
    {
        if (commentOpen)
        {
            while (block.Count > 0)
            {
                int end = CommentEnd(block, 0);
                if (end != -1)
                {
                    block = block.GetRange(end + 1, block.Count - end - 1);
                    break;
                }
                block = NextBlock(file, ref position);
            }
        }
        commentOpen = false;
        while (true)
        {
            int start = block.IndexOf((byte)'#');
            if (start == -1)
            {
                break;
            }
            int end = CommentEnd(block, start);
            if (end != -1)
            {
                block.RemoveRange(start, end + 1 - start);
            }
            else
            {
                block.RemoveRange(start, block.Count - start);
                commentOpen = true;
                break;
            }
        }
        return block;
    }

    // The first CR or LF from start, as Pillow finds it: of two found, the lower index, except that an index of 0
    // gives way to the other one (its test multiplies the two indices).
    private static int CommentEnd(List<byte> block, int start)
    {
        int a = block.IndexOf((byte)'\n', start);
        int b = block.IndexOf((byte)'\r', start);
        return (long)a * b > 0 ? Math.Min(a, b) : Math.Max(a, b);
    }

    private static List<byte> NextBlock(ReadOnlySpan<byte> file, ref int position)
    {
        int count = Math.Min(Block, file.Length - position);
        var block = new List<byte>(count);
        block.AddRange(file.Slice(position, count));
        position += count;
        return block;
    }

    private static void PlainBitonal(ReadOnlySpan<byte> data, Span<byte> rgb, int pixels, string source)
    {
        int position = 0;
        int done = 0;
        bool commentOpen = false;
        while (done != pixels)
        {
            List<byte> block = NextBlock(data, ref position);
            if (block.Count == 0)
            {
                break;
            }
            block = WithoutComments(data, ref position, block, ref commentOpen);
            foreach (byte c in block)
            {
                if (IsSpace(c))
                {
                    continue;
                }
                if (c is not ((byte)'0' or (byte)'1'))
                {
                    throw new ImageDecodeException(source, BytesMessage("Invalid token for this mode: ", [c]));
                }
            }
            foreach (byte c in block)
            {
                if (!IsSpace(c) && done < pixels)
                {
                    // "1" is black.
                    rgb[(3 * done)..(3 * done + 3)].Fill(c == (byte)'1' ? (byte)0 : (byte)255);
                    done++;
                }
            }
        }
        if (done < pixels)
        {
            throw new ImageDecodeException(source, $"not enough image data: {done} of {pixels} pixels");
        }
    }

    private static void PlainSamples(ReadOnlySpan<byte> data, Span<byte> rgb, int samples, int bands, int maxval, bool wide, string source)
    {
        int position = 0;
        int done = 0;
        bool commentOpen = false;
        // Pillow keeps the last token cut by a block's end and never forgets it: at the end of the data it is read
        // again and again while values are missing.
        List<byte>? half = null;
        while (done != samples)
        {
            List<byte> block = NextBlock(data, ref position);
            if (block.Count == 0)
            {
                if (half is null)
                {
                    break;
                }
                block = [0x20];
            }
            block = WithoutComments(data, ref position, block, ref commentOpen);
            if (half is not null)
            {
                block.InsertRange(0, half);
            }
            List<List<byte>> tokens = Split(block);
            if (block.Count > 0 && !IsSpace(block[^1]))
            {
                half = tokens[^1];
                tokens.RemoveAt(tokens.Count - 1);
                if (half.Count > MaxToken)
                {
                    throw new ImageDecodeException(source, BytesMessage("Token too long found in data: ", [.. half.Take(MaxToken + 1)]));
                }
            }
            foreach (List<byte> token in tokens)
            {
                if (token.Count > MaxToken)
                {
                    throw new ImageDecodeException(source, BytesMessage("Token too long found in data: ", [.. token.Take(MaxToken + 1)]));
                }
                long value = PythonInt([.. token]) ?? throw IntError([.. token], source);
                if (value > maxval)
                {
                    throw new ImageDecodeException(source, $"Channel value too large for this mode: {value.ToString(CultureInfo.InvariantCulture)}");
                }
                byte b;
                if (wide)
                {
                    double scaled = Math.Round((double)value / maxval * 65535);
                    if (scaled < 0)
                    {
                        // Pillow packs mode "I" values as unsigned 32-bit integers and fails on a negative one.
                        throw new ImageDecodeException(source, "argument out of range: a negative sample");
                    }
                    b = (byte)Math.Min(255, scaled);
                }
                else
                {
                    // Pillow stores the rounded value's low byte: a negative sample wraps.
                    b = (byte)((long)Math.Round((double)value / maxval * 255) & 0xFF);
                }
                Put(rgb, done, bands, b);
                done++;
                if (done == samples)
                {
                    break;
                }
            }
        }
        if (done < samples)
        {
            throw new ImageDecodeException(source, $"not enough image data: {done} of {samples} values");
        }
    }

    private static List<List<byte>> Split(List<byte> block)
    {
        var tokens = new List<List<byte>>();
        List<byte>? current = null;
        foreach (byte c in block)
        {
            if (IsSpace(c))
            {
                current = null;
                continue;
            }
            if (current is null)
            {
                current = [];
                tokens.Add(current);
            }
            current.Add(c);
        }
        return tokens;
    }
}
