namespace IJepa.Preprocessing;

/// <summary>Which decoders read the encoded image.</summary>
public enum ImageDecoding
{
    /// <summary>
    /// JPEG and WebP through the native libraries Pillow uses — libjpeg-turbo (integer IDCT, "fancy" chroma
    /// upsampling, Adobe CMYK) and libwebp — by way of SkiaSharp, so their pixels are Pillow's exactly;
    /// PNG, BMP, GIF, TIFF, TGA and PBM through ImageSharp, which already matches Pillow on them.
    /// </summary>
    Native,

    /// <summary>Every format through ImageSharp's managed decoders: no native code, but JPEG pixels differ from Pillow's by a few levels.</summary>
    ImageSharp,
}
