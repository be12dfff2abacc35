using System.Buffers.Binary;

namespace IJepa.Preprocessing;

/// <summary>
/// The first frame of a GIF exactly as Pillow 9.4 reads it (GifImagePlugin's block walk, then
/// libImaging's GifDecode fed by ImageFile.load in 64 KiB reads), so that the same files are refused for
/// the same reasons and accepted files have the same pixels. ImageSharp is more lenient: it accepts LZW
/// streams that run out before the frame is filled (Pillow: "image file is truncated") or hold codes that
/// are not yet in the table (Pillow: "broken data stream"), and crops frames that overhang the logical
/// screen where Pillow enlarges the canvas.
/// </summary>
internal static class PillowGif
{
    private const int ReadBlock = 65536; // ImageFile.MAXBLOCK: what ImageFile.load asks the file for at a time
    private const int TableSize = 4096; // GIFTABLE = GIFBUFFER = 1 << GIFBITS
    private const int MaxCodeSize = 12;

    /// <summary>Whether the bytes start like a GIF (Pillow's <c>_accept</c>).</summary>
    public static bool Handles(ReadOnlySpan<byte> head) =>
        head.Length >= 6 && (head[..6].SequenceEqual("GIF87a"u8) || head[..6].SequenceEqual("GIF89a"u8));

    /// <summary>Decodes the first frame to RGB, or throws where Pillow refuses the file.</summary>
    public static RgbImage Decode(ReadOnlySpan<byte> file, string source, long maxPixels)
    {
        var reader = new Reader(file);
        ReadOnlySpan<byte> screen = reader.Read(13);
        if (screen.Length < 13)
        {
            throw Unidentified(source, "the GIF header is cut short");
        }
        int width = BinaryPrimitives.ReadUInt16LittleEndian(screen[6..]), height = BinaryPrimitives.ReadUInt16LittleEndian(screen[8..]);
        byte[]? globalPalette = null;
        if ((screen[10] & 0x80) != 0)
        {
            globalPalette = PaletteIfNeeded(reader.Read(3 << ((screen[10] & 7) + 1)), source);
        }

        // GifImagePlugin._seek(0): extensions up to the first image descriptor.
        ReadOnlySpan<byte> s = reader.Read(1);
        if (s.Length == 0 || s[0] == (byte)';')
        {
            throw Unidentified(source, "the GIF holds no image");
        }
        int? transparency = null;
        bool found = false, interlace = false;
        byte[]? framePalette = globalPalette;
        int x0 = 0, y0 = 0, frameWidth = 0, frameHeight = 0, bits = 0, dataOffset = 0;
        while (true)
        {
            if (s.Length == 0)
            {
                s = reader.Read(1);
            }
            if (s.Length == 0 || s[0] == (byte)';')
            {
                break;
            }
            if (s[0] == (byte)'!')
            {
                ReadOnlySpan<byte> label = reader.Read(1);
                if (label.Length == 0)
                {
                    throw Unidentified(source, "an extension is cut short");
                }
                ReadOnlySpan<byte> block = reader.Data(out bool present);
                if (label[0] == 0xF9)
                {
                    if (!present || block.Length < 3 || ((block[0] & 1) != 0 && block.Length < 4))
                    {
                        throw Unidentified(source, "a graphic control extension is cut short");
                    }
                    if ((block[0] & 1) != 0)
                    {
                        transparency = block[3];
                    }
                }
                else if (label[0] == 0xFE)
                {
                    while (present)
                    {
                        _ = reader.Data(out present);
                    }
                    s = default;
                    continue;
                }
                else if (label[0] == 0xFF)
                {
                    if (!present)
                    {
                        throw Unidentified(source, "an application extension is empty");
                    }
                    if (block.Length >= 11 && block[..11].SequenceEqual("NETSCAPE2.0"u8))
                    {
                        // Pillow reads the loop count block here and takes its len(), a TypeError when it is absent.
                        _ = reader.Data(out bool loop);
                        if (!loop)
                        {
                            throw Unidentified(source, "the NETSCAPE2.0 loop block is missing");
                        }
                    }
                }
                while (true)
                {
                    _ = reader.Data(out present);
                    if (!present)
                    {
                        break;
                    }
                }
            }
            else if (s[0] == (byte)',')
            {
                ReadOnlySpan<byte> descriptor = reader.Read(9);
                if (descriptor.Length < 9)
                {
                    throw Unidentified(source, "the image descriptor is cut short");
                }
                x0 = BinaryPrimitives.ReadUInt16LittleEndian(descriptor);
                y0 = BinaryPrimitives.ReadUInt16LittleEndian(descriptor[2..]);
                frameWidth = BinaryPrimitives.ReadUInt16LittleEndian(descriptor[4..]);
                frameHeight = BinaryPrimitives.ReadUInt16LittleEndian(descriptor[6..]);
                // Pillow enlarges the canvas to a first frame that overhangs the logical screen.
                width = Math.Max(width, x0 + frameWidth);
                height = Math.Max(height, y0 + frameHeight);
                byte flags = descriptor[8];
                interlace = (flags & 64) != 0;
                if ((flags & 0x80) != 0)
                {
                    framePalette = PaletteIfNeeded(reader.Read(3 << ((flags & 7) + 1)), source);
                }
                ReadOnlySpan<byte> minimum = reader.Read(1);
                if (minimum.Length == 0)
                {
                    throw Unidentified(source, "the image data is missing");
                }
                bits = minimum[0];
                dataOffset = reader.Position;
                found = true;
                break;
            }
            s = default;
        }
        if (!found)
        {
            throw Unidentified(source, "the GIF holds no image");
        }
        ImageLoader.CheckSize(width, height, source, maxPixels);
        if (x0 == 0 && frameWidth == 0)
        {
            // libImaging's setimage takes an extent with x0 = x1 = 0 as the whole image.
            (y0, frameWidth, frameHeight) = (0, width, height);
        }
        if (frameWidth <= 0 || frameHeight <= 0)
        {
            throw new ImageDecodeException(source, "tile cannot extend outside image (the GIF frame is empty)");
        }

        // Pillow's first frame starts as the transparent index where there is one, else index 0.
        byte[] indices = new byte[checked(width * height)];
        if (transparency is int t && t != 0)
        {
            indices.AsSpan().Fill((byte)t);
        }
        var lzw = new Lzw(indices, width, x0, y0, frameWidth, frameHeight, bits, interlace);
        ReadOnlySpan<byte> rest = file[dataOffset..];
        int consumedTotal = 0, available = 0;
        while (true)
        {
            int read = Math.Min(ReadBlock, rest.Length - available);
            if (read <= 0)
            {
                throw new ImageDecodeException(source, $"image file is truncated ({available - consumedTotal} bytes not processed): the GIF's LZW data ends before the frame is complete");
            }
            available += read;
            int n = lzw.Decode(rest[consumedTotal..available]);
            if (n < 0)
            {
                break;
            }
            consumedTotal += n;
        }
        if (lzw.Error != 0)
        {
            throw new ImageDecodeException(source, lzw.Error switch
            {
                -1 => "image buffer overrun error when reading image file (the GIF's LZW data overruns the frame)",
                -8 => $"codec configuration error when reading image file (LZW minimum code size {bits})",
                _ => "broken data stream when reading image file (invalid LZW code in the GIF)",
            });
        }

        // convert("RGB"): the palette over Pillow's default grey ramp (entries the file does not give stay grey).
        Span<byte> lut = stackalloc byte[768];
        for (int i = 0; i < 256; i++)
        {
            lut[i * 3] = lut[(i * 3) + 1] = lut[(i * 3) + 2] = (byte)i;
        }
        if (framePalette is not null)
        {
            framePalette.AsSpan(0, framePalette.Length / 3 * 3).CopyTo(lut);
        }
        RgbImage result = RgbImage.Rent(width, height);
        byte[] rgb = result.Pixels;
        for (int i = 0, o = 0; i < indices.Length; i++, o += 3)
        {
            int p = indices[i] * 3;
            rgb[o] = lut[p];
            rgb[o + 1] = lut[p + 1];
            rgb[o + 2] = lut[p + 2];
        }
        return result;
    }

    /// <summary>The palette, or null when it is the identity grey ramp (Pillow then reads mode L, the same pixels).</summary>
    private static byte[]? PaletteIfNeeded(ReadOnlySpan<byte> palette, string source)
    {
        for (int i = 0; i < palette.Length; i += 3)
        {
            if (i + 2 >= palette.Length)
            {
                // Pillow indexes past the end of a cut-short palette (IndexError, so the file is not identified).
                throw Unidentified(source, "the colour table is cut short");
            }
            int entry = i / 3;
            if (!(palette[i] == entry && palette[i + 1] == entry && palette[i + 2] == entry))
            {
                return palette.ToArray();
            }
        }
        return null;
    }

    private static ImageDecodeException Unidentified(string source, string why) =>
        new(source, $"cannot identify image file: broken GIF structure ({why})");

    private ref struct Reader(ReadOnlySpan<byte> data)
    {
        private readonly ReadOnlySpan<byte> _data = data;

        public int Position { get; private set; }

        /// <summary>Up to <paramref name="count"/> bytes, fewer at the end of the file (like a Python read).</summary>
        public ReadOnlySpan<byte> Read(int count)
        {
            int n = Math.Min(count, _data.Length - Position);
            ReadOnlySpan<byte> result = _data.Slice(Position, n);
            Position += n;
            return result;
        }

        /// <summary>GifImageFile.data(): one sub-block; <paramref name="present"/> false for the terminator or the end of the file.</summary>
        public ReadOnlySpan<byte> Data(out bool present)
        {
            ReadOnlySpan<byte> size = Read(1);
            present = size.Length == 1 && size[0] != 0;
            return present ? Read(size[0]) : default;
        }
    }

    /// <summary>libImaging/GifDecode.c, state kept between calls as ImageFile.load makes them.</summary>
    private sealed class Lzw(byte[] canvas, int canvasWidth, int xoff, int yoff, int xsize, int ysize, int bits, bool interlaced)
    {
        private readonly byte[] _data = new byte[TableSize];
        private readonly ushort[] _link = new ushort[TableSize];
        private readonly byte[] _buffer = new byte[TableSize];
        private int _state, _x, _y, _step, _interlace;
        private int _clear, _end, _next, _codeSize, _codeMask, _bufferIndex;
        private int _bitBuffer, _bitCount, _blockSize;
        private byte _lastData;
        private int _lastCode;

        /// <summary>0, or Pillow's error code: -1 overrun, -2 broken, -8 bad configuration.</summary>
        public int Error { get; private set; }

        /// <summary>Bytes consumed (more data wanted), or -1 when finished (<see cref="Error"/> says how).</summary>
        public int Decode(ReadOnlySpan<byte> input)
        {
            int ptr = 0, bytes = input.Length;
            if (_state == 0)
            {
                if (bits is < 0 or > MaxCodeSize)
                {
                    Error = -8;
                    return -1;
                }
                _clear = 1 << bits;
                _end = _clear + 1;
                if (interlaced)
                {
                    _interlace = 1;
                    _step = 8;
                }
                else
                {
                    _step = 1;
                }
                _state = 1;
            }
            while (true)
            {
                if (_state == 1)
                {
                    _next = _clear + 2;
                    _codeSize = bits + 1;
                    _codeMask = (1 << _codeSize) - 1;
                    _bufferIndex = TableSize;
                    _state = 2;
                }
                int count, c;
                bool fromBuffer;
                if (_bufferIndex < TableSize)
                {
                    count = TableSize - _bufferIndex;
                    fromBuffer = true;
                }
                else
                {
                    while (_bitCount < _codeSize)
                    {
                        if (_blockSize > 0)
                        {
                            c = input[ptr++];
                            bytes--;
                            _blockSize--;
                            _bitBuffer |= c << _bitCount;
                            _bitCount += 8;
                        }
                        else
                        {
                            // A new sub-block: decoding waits until all of it is there.
                            if (bytes < 1)
                            {
                                return ptr;
                            }
                            c = input[ptr];
                            if (bytes < c + 1)
                            {
                                return ptr;
                            }
                            _blockSize = c;
                            ptr++;
                            bytes--;
                        }
                    }
                    c = _bitBuffer & _codeMask;
                    _bitBuffer = (int)((uint)_bitBuffer >> _codeSize);
                    _bitCount -= _codeSize;
                    if (c == _clear)
                    {
                        if (_state != 2)
                        {
                            _state = 1;
                        }
                        continue;
                    }
                    if (c == _end)
                    {
                        // Pillow only suspends here; ImageFile.load then wants more data than the file has.
                        return ptr;
                    }
                    count = 1;
                    fromBuffer = false;
                    if (_state == 2)
                    {
                        if (c > _clear)
                        {
                            Error = -2;
                            return -1;
                        }
                        _lastData = (byte)c;
                        _lastCode = c;
                        _state = 3;
                    }
                    else
                    {
                        int thisCode = c;
                        if (c > _next)
                        {
                            Error = -2;
                            return -1;
                        }
                        if (c == _next)
                        {
                            if (_bufferIndex <= 0)
                            {
                                Error = -2;
                                return -1;
                            }
                            _buffer[--_bufferIndex] = _lastData;
                            c = _lastCode;
                        }
                        while (c >= _clear)
                        {
                            if (_bufferIndex <= 0 || c >= TableSize)
                            {
                                Error = -2;
                                return -1;
                            }
                            _buffer[--_bufferIndex] = _data[c];
                            c = _link[c];
                        }
                        _lastData = (byte)c;
                        if (_next < TableSize)
                        {
                            _data[_next] = (byte)c;
                            _link[_next] = (ushort)_lastCode;
                            if (_next == _codeMask && _codeSize < MaxCodeSize)
                            {
                                _codeSize++;
                                _codeMask = (1 << _codeSize) - 1;
                            }
                            _next++;
                        }
                        _lastCode = thisCode;
                    }
                }
                int start = _bufferIndex;
                if (fromBuffer)
                {
                    _bufferIndex = TableSize;
                }
                if (_y >= ysize)
                {
                    Error = -1;
                    return -1;
                }
                for (int k = 0; k < count; k++)
                {
                    canvas[((_y + yoff) * canvasWidth) + xoff + _x] = fromBuffer ? _buffer[start + k] : _lastData;
                    if (++_x >= xsize && !NewLine())
                    {
                        return -1;
                    }
                }
            }
        }

        /// <summary>The NEWLINE macro; false when the frame is complete (the decoder returns -1, no error).</summary>
        private bool NewLine()
        {
            _x = 0;
            _y += _step;
            while (_y >= ysize)
            {
                switch (_interlace)
                {
                    case 1:
                        _y = 4;
                        _interlace = 2;
                        break;
                    case 2:
                        _step = 4;
                        _y = 2;
                        _interlace = 3;
                        break;
                    case 3:
                        _step = 2;
                        _y = 1;
                        _interlace = 0;
                        break;
                    default:
                        return false;
                }
            }
            return true;
        }
    }
}
