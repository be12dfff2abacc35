namespace IJepa.Preprocessing;

/// <summary>An 8-bit RGB image, rows top to bottom, pixels interleaved R, G, B.</summary>
internal sealed class RgbImage
{
    public RgbImage(int width, int height, byte[] pixels)
    {
        if ((long)width * height * 3 != pixels.LongLength)
        {
            throw new ArgumentException($"{pixels.Length} bytes for a {width}x{height} RGB image", nameof(pixels));
        }
        Width = width;
        Height = height;
        Pixels = pixels;
    }

    public int Width { get; }

    public int Height { get; }

    public byte[] Pixels { get; }

    public RgbImage Crop(int left, int top, int width, int height)
    {
        if (left < 0 || top < 0 || left + width > Width || top + height > Height)
        {
            // Pillow pads crops that leave the image with black; center crops of a resized image never do.
            throw new ArgumentOutOfRangeException(nameof(width), $"crop {width}x{height}+{left}+{top} leaves the {Width}x{Height} image");
        }
        byte[] result = new byte[width * height * 3];
        for (int y = 0; y < height; y++)
        {
            Array.Copy(Pixels, (((top + y) * Width) + left) * 3, result, y * width * 3, width * 3);
        }
        return new RgbImage(width, height, result);
    }
}
