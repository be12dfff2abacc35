using System.Buffers;

namespace IJepa.Preprocessing;

/// <summary>
/// An 8-bit RGB image, rows top to bottom, pixels interleaved R, G, B. Images made by <see cref="Rent"/> or
/// <see cref="Adopt"/> borrow their buffer from the pixel pool (which may hand out a longer array than
/// <see cref="Length"/>) and give it back on <see cref="Release"/>: megabyte-sized buffers per image
/// would otherwise land on the large-object heap and keep the collector busy.
/// </summary>
internal sealed class RgbImage
{
    private bool _pooled;

    public RgbImage(int width, int height, byte[] pixels)
        : this(width, height, pixels, pooled: false)
    {
    }

    private RgbImage(int width, int height, byte[] pixels, bool pooled)
    {
        if ((long)width * height * 3 > pixels.LongLength)
        {
            throw new ArgumentException($"{pixels.Length} bytes for a {width}x{height} RGB image", nameof(pixels));
        }
        Width = width;
        Height = height;
        SourceWidth = width;
        SourceHeight = height;
        Pixels = pixels;
        _pooled = pooled;
    }

    public int Width { get; }

    public int Height { get; }

    /// <summary>
    /// The source image's size, EXIF orientation applied: <see cref="Width"/> × <see cref="Height"/> unless the
    /// decoder reduced the image (a JPEG decoded at a DCT scale), where it is the size before that reduction.
    /// </summary>
    public int SourceWidth { get; private set; }

    /// <inheritdoc cref="SourceWidth"/>
    public int SourceHeight { get; private set; }

    /// <summary>Records that this image was decoded reduced from a source of the given (oriented) size.</summary>
    public RgbImage ReducedFrom(int sourceWidth, int sourceHeight)
    {
        SourceWidth = sourceWidth;
        SourceHeight = sourceHeight;
        return this;
    }

    /// <summary>The pixel buffer; only its first <see cref="Length"/> bytes belong to the image.</summary>
    public byte[] Pixels { get; }

    /// <summary>Width × height × 3.</summary>
    public int Length => Width * Height * 3;

    /// <summary>The image's bytes.</summary>
    public Span<byte> Data => Pixels.AsSpan(0, Length);

    public static RgbImage Rent(int width, int height) =>
        new(width, height, PixelBuffers.Pool.Rent(checked(width * height * 3)), pooled: true);

    /// <summary>Wraps a buffer rented from <see cref="PixelBuffers"/> by the caller; <see cref="Release"/> gives it back.</summary>
    public static RgbImage Adopt(int width, int height, byte[] rented) => new(width, height, rented, pooled: true);

    /// <summary>Returns a rented buffer to the pool; the image must not be used afterwards.</summary>
    public void Release()
    {
        if (_pooled)
        {
            _pooled = false;
            PixelBuffers.Pool.Return(Pixels);
        }
    }

    public RgbImage Crop(int left, int top, int width, int height)
    {
        if (left < 0 || top < 0 || left + width > Width || top + height > Height)
        {
            // Pillow pads crops that leave the image with black; center crops of a resized image never do.
            throw new ArgumentOutOfRangeException(nameof(width), $"crop {width}x{height}+{left}+{top} leaves the {Width}x{Height} image");
        }
        RgbImage result = Rent(width, height);
        for (int y = 0; y < height; y++)
        {
            Array.Copy(Pixels, (((top + y) * Width) + left) * 3, result.Pixels, y * width * 3, width * 3);
        }
        return result;
    }
}
