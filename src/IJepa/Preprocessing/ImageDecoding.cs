namespace IJepa.Preprocessing;

/// <summary>Which decoders read the encoded image.</summary>
public enum ImageDecoding
{
    /// <summary>
    /// JPEG and WebP through the native libraries Pillow uses — libjpeg-turbo (integer IDCT, "fancy" chroma
    /// upsampling, Adobe CMYK) and libwebp — by way of SkiaSharp, so their pixels are Pillow's exactly;
    /// PNG, TIFF and PBM through ImageSharp, which already matches Pillow on them (with checks that refuse
    /// damaged PNG and TIFF data where Pillow does, and uncompressed striped TIFFs read as Pillow reads them);
    /// GIF, BMP and TGA through managed readers that follow Pillow 9.4 exactly, damaged files included; a WebP whose
    /// RIFF structure Pillow's demuxer refuses is refused first.
    /// </summary>
    Native,

    /// <summary>Every format through managed decoders (ImageSharp; GIF, BMP, TGA and raw TIFF as in <see cref="Native"/>): no native code, but JPEG pixels differ from Pillow's by a few levels.</summary>
    ImageSharp,

    /// <summary>
    /// As <see cref="Native"/>, but a JPEG much larger than the model's input is decoded at a reduced size in
    /// libjpeg's DCT domain (scale 1/2, 1/4 or 1/8, keeping the shorter side at least
    /// <see cref="PreprocessingOptions.ReducedDecodeGap"/> × the resize target) before the exact resize. Several
    /// times faster on camera photos; <b>not bit-exact</b> with Python (README gives the measured cosine).
    /// Other formats decode as with <see cref="Native"/>.
    /// </summary>
    NativeReduced,
}
