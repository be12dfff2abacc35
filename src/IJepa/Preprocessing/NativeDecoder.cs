using System.Buffers;
using SkiaSharp;

namespace IJepa.Preprocessing;

/// <summary>
/// Decodes JPEG and WebP with the libraries Pillow uses (libjpeg-turbo: integer IDCT, fancy upsampling,
/// inverted Adobe CMYK; libwebp: the first frame of an animation) through SkiaSharp, without colour
/// management (Pillow ignores ICC profiles), then applies the EXIF orientation the way
/// <c>ImageOps.exif_transpose</c> does.
/// </summary>
internal static class NativeDecoder
{
    /// <summary>Whether the seekable stream holds a JPEG or WebP file (read from its position, which is restored).</summary>
    public static bool Handles(Stream stream)
    {
        Span<byte> head = stackalloc byte[12];
        long start = stream.Position;
        int read = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        stream.Position = start;
        head = head[..read];
        bool jpeg = head.Length >= 3 && head[0] == 0xFF && head[1] == 0xD8 && head[2] == 0xFF;
        bool webp = head.Length == 12 && head[..4].SequenceEqual("RIFF"u8) && head[8..].SequenceEqual("WEBP"u8);
        return jpeg || webp;
    }

    /// <summary>Decodes the rest of <paramref name="stream"/>, refusing images over <paramref name="maxPixels"/> before any pixel buffer exists.</summary>
    /// <param name="stream">The encoded image, from its position.</param>
    /// <param name="source">The image's name for errors.</param>
    /// <param name="maxPixels">Refuse images with more pixels than this (judged on the full size, reduced or not).</param>
    /// <param name="reduceTo">
    /// 0 for the full image; otherwise a JPEG is decoded at the smallest of libjpeg's DCT scales (1/8 … 8/8)
    /// that keeps both sides at least this long.
    /// </param>
    public static unsafe RgbImage Decode(Stream stream, string source, long maxPixels, int reduceTo = 0)
    {
        if (stream is MemoryStream memory && memory.TryGetBuffer(out ArraySegment<byte> buffer) && memory.Position <= buffer.Count)
        {
            // Bytes already in memory (a server's request body, ImageInput.FromBytes) are read where they lie, pinned
            // for the decode, instead of through a native copy of every image: a malloc and a free of the file's size
            // per image, which under a long server load left glibc's arenas holding more and more free memory.
            int at = (int)memory.Position;
            fixed (byte* bytes = buffer.Array)
            {
                var address = (IntPtr)(bytes + buffer.Offset + at);
                return Decode(() => SKData.Create(address, buffer.Count - at), source, maxPixels, reduceTo);
            }
        }
        return Decode(() => SKData.Create(stream), source, maxPixels, reduceTo);
    }

    private static unsafe RgbImage Decode(Func<SKData?> open, string source, long maxPixels, int reduceTo)
    {
        SKData? data;
        try
        {
            data = open();
        }
        catch (Exception e) when (e is DllNotFoundException or TypeInitializationException or EntryPointNotFoundException or BadImageFormatException)
        {
            throw new ImageDecodeException(source,
                $"the native JPEG/WebP decoders (SkiaSharp's native library) cannot be loaded ({e.Message}); set PreprocessingOptions.Decoding = ImageDecoding.ImageSharp to decode without them", e);
        }
        if (data is null)
        {
            throw new ImageDecodeException(source, "the file is empty (0 bytes)");
        }
        using (data)
        {
            using SKCodec? codec = SKCodec.Create(data);
            if (codec is null)
            {
                throw new ImageDecodeException(source, "corrupt or unsupported image header");
            }
            int width = codec.Info.Width, height = codec.Info.Height;
            ImageLoader.CheckSize(width, height, source, maxPixels);
            (int fullWidth, int fullHeight) = Swaps(codec.EncodedOrigin) ? (height, width) : (width, height);
            if (reduceTo > 0 && codec.EncodedFormat == SKEncodedImageFormat.Jpeg)
            {
                (width, height) = ReducedSize(codec, width, height, reduceTo);
            }
            // No colour space on the target: the pixels come out as stored, as with Pillow.
            var info = new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
            byte[]? rgba = PixelBuffers.Pool.Rent(checked(width * height * 4));
            try
            {
                SKCodecResult result;
                fixed (byte* pixels = rgba)
                {
                    result = codec.GetPixels(info, (IntPtr)pixels);
                }
                switch (result)
                {
                    case SKCodecResult.Success:
                        break;
                    case SKCodecResult.IncompleteInput:
                        throw new ImageDecodeException(source, "truncated image: the data ends before the image does");
                    case SKCodecResult.ErrorInInput:
                        throw new ImageDecodeException(source, "corrupt image data");
                    default:
                        throw new ImageDecodeException(source, $"the native decoder failed: {result}");
                }
                return Orient(ref rgba, width, height, codec.EncodedOrigin).ReducedFrom(fullWidth, fullHeight);
            }
            finally
            {
                if (rgba is not null)
                {
                    PixelBuffers.Pool.Return(rgba);
                }
            }
        }
    }

    /// <summary>
    /// The smallest size libjpeg can decode directly (scale k/8, computed in the DCT domain) whose sides both stay
    /// at least <paramref name="reduceTo"/>; the full size when no smaller one does.
    /// </summary>
    private static (int Width, int Height) ReducedSize(SKCodec codec, int width, int height, int reduceTo)
    {
        for (int eighths = 1; eighths < 8; eighths++)
        {
            SKSizeI scaled = codec.GetScaledDimensions(eighths / 8f);
            if (Math.Min(scaled.Width, scaled.Height) >= reduceTo)
            {
                return (scaled.Width, scaled.Height);
            }
        }
        return (width, height);
    }

    /// <summary>Orientations 5–8 turn the image a quarter: width and height trade places.</summary>
    private static bool Swaps(SKEncodedOrigin origin) => origin >= SKEncodedOrigin.LeftTop;

    /// <summary>
    /// RGBA → RGB with the EXIF orientation applied (1 = as stored … 8 = rotated 90° counter-clockwise). An image
    /// as stored is packed in place and takes over the RGBA buffer (<paramref name="rgba"/> becomes null): a photo
    /// then holds one pixel buffer instead of two at its peak, so the bounded pixel pool needs half the
    /// large buffers per decoder and fills within the first images rather than in steps over a long run (README,
    /// Embedding server).
    /// </summary>
    private static RgbImage Orient(ref byte[]? rgba, int width, int height, SKEncodedOrigin origin)
    {
        byte[] source = rgba!;
        if (origin is SKEncodedOrigin.TopLeft or SKEncodedOrigin.Default)
        {
            // Forward in place: pixel i moves from 4i to 3i, never past a byte not yet read.
            for (int s = 0, d = 0, end = width * height * 3; d < end; s += 4, d += 3)
            {
                source[d] = source[s];
                source[d + 1] = source[s + 1];
                source[d + 2] = source[s + 2];
            }
            rgba = null;
            return RgbImage.Adopt(width, height, source);
        }
        bool swap = Swaps(origin);
        int outWidth = swap ? height : width, outHeight = swap ? width : height;
        RgbImage oriented = RgbImage.Rent(outWidth, outHeight);
        byte[] rgb = oriented.Pixels;
        int o = 0;
        for (int y = 0; y < outHeight; y++)
        {
            for (int x = 0; x < outWidth; x++, o += 3)
            {
                (int sx, int sy) = origin switch
                {
                    SKEncodedOrigin.TopRight => (width - 1 - x, y),
                    SKEncodedOrigin.BottomRight => (width - 1 - x, height - 1 - y),
                    SKEncodedOrigin.BottomLeft => (x, height - 1 - y),
                    SKEncodedOrigin.LeftTop => (y, x),
                    SKEncodedOrigin.RightTop => (y, height - 1 - x),
                    SKEncodedOrigin.RightBottom => (width - 1 - y, height - 1 - x),
                    SKEncodedOrigin.LeftBottom => (width - 1 - y, x),
                    _ => (x, y),
                };
                int s = ((sy * width) + sx) * 4;
                rgb[o] = source[s];
                rgb[o + 1] = source[s + 1];
                rgb[o + 2] = source[s + 2];
            }
        }
        return oriented;
    }
}
