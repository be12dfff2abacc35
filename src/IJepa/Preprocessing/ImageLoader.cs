using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats;
using SixLabors.ImageSharp.Formats.Gif;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.Formats.Tga;
using SixLabors.ImageSharp.Formats.Tiff;
using SixLabors.ImageSharp.Metadata;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace IJepa.Preprocessing;

/// <summary>
/// Decodes images with ImageSharp into 8-bit RGB the way transformers' <c>load_image</c> does with
/// Pillow: EXIF orientation applied, the first frame of an animation, and Pillow's
/// <c>convert("RGB")</c> for other modes — alpha dropped without compositing, 16-bit RGB reduced to its
/// high byte, and 16-bit grayscale clipped at 255 (Pillow reads it as 32-bit integers, and its I→RGB
/// conversion clips; Python users get exactly that).
/// </summary>
internal static class ImageLoader
{
    private static readonly Configuration DecodeConfiguration = CreateConfiguration();

    private static Configuration CreateConfiguration()
    {
        Configuration configuration = Configuration.Default.Clone();
        // Only the first frame matters; decoding the rest of an animation would cost time and memory.
        configuration.ImageFormatsManager.SetDecoder(GifFormat.Instance, new GifDecoder { DecodingMode = FrameDecodingMode.First });
        configuration.ImageFormatsManager.SetDecoder(TiffFormat.Instance, new TiffDecoder { DecodingMode = FrameDecodingMode.First });
        // ImageSharp's default pool may keep up to an eighth of physical memory after large decodes;
        // 64 MB is plenty for the images an embedding pipeline sees one batch at a time.
        configuration.MemoryAllocator = SixLabors.ImageSharp.Memory.MemoryAllocator.Create(
            new SixLabors.ImageSharp.Memory.MemoryAllocatorOptions { MaximumPoolSizeMegabytes = 64 });
        return configuration;
    }

    /// <summary>Hands the decoders' pooled memory back (see <see cref="ImagePreprocessor.TrimCaches"/>).</summary>
    public static void ReleaseRetainedResources() => DecodeConfiguration.MemoryAllocator.ReleaseRetainedResources();

    // reduceTo: with ImageDecoding.NativeReduced, the shortest side a reduced JPEG decode may have.
    // fromPath: the stream is a file opened by its path. Pillow memory-maps a lone raw tile only then (load_image opens
    // a local file by its path, anything else as BytesIO), and the mapping accepts a few files that decoding refuses.
    public static RgbImage Decode(Stream stream, string source, long maxPixels, ImageDecoding decoding = ImageDecoding.Native, int reduceTo = 0, bool fromPath = false)
    {
        Image? image = LoadChecked(stream, source, maxPixels, decoding, reduceTo, fromPath, out RgbImage? native);
        if (native is not null)
        {
            return native;
        }
        using (image!)
        {
            try
            {
                return ToRgb(image!);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                throw new ImageDecodeException(source, $"cannot convert the decoded image: {e.Message}", e);
            }
        }
    }

    public static RgbImage FromImage(Image image, string source, long maxPixels)
    {
        CheckSize(image.Width, image.Height, source, maxPixels);
        using Image copy = image.Frames.Count > 1 ? image.Frames.CloneFrame(0) : image.Clone(_ => { });
        copy.Metadata.ExifProfile = image.Metadata.ExifProfile?.DeepClone();
        copy.Mutate(x => x.AutoOrient());
        return ToRgb(copy);
    }

    /// <summary>
    /// Identifies the image from its header, refuses it if it is too large, then decodes it: JPEG and WebP
    /// into <paramref name="native"/> with Pillow's native decoders when asked, anything else into the returned image.
    /// </summary>
    private static Image? LoadChecked(Stream stream, string source, long maxPixels, ImageDecoding decoding, int reduceTo, bool fromPath, out RgbImage? native)
    {
        native = null;
        Stream seekable = stream;
        MemoryStream? buffered = null;
        try
        {
            if (!stream.CanSeek)
            {
                // Identify then decode needs to read the header twice.
                buffered = new MemoryStream();
                stream.CopyTo(buffered);
                buffered.Position = 0;
                seekable = buffered;
            }
            long start = seekable.Position;
            if (seekable.Length - start == 0)
            {
                throw new ImageDecodeException(source, "the file is empty (0 bytes)");
            }

            if (StartsWith(seekable, WebPDemuxGuard.Handles))
            {
                WebPDemuxGuard.Check(ReadRest(seekable), source);
                seekable.Position = start;
            }

            if (decoding != ImageDecoding.ImageSharp && NativeDecoder.Handles(seekable))
            {
                native = NativeDecoder.Decode(seekable, source, maxPixels, decoding == ImageDecoding.NativeReduced ? reduceTo : 0);
                return null;
            }

            if (StartsWith(seekable, PillowGif.Handles))
            {
                native = PillowGif.Decode(ReadRest(seekable), source, maxPixels);
                return null;
            }

            if (StartsWith(seekable, PngStreamGuard.Handles))
            {
                byte[] original = ReadRest(seekable);
                byte[] png = PngStreamGuard.Check(original, source, maxPixels);
                seekable.Position = start;
                if (!ReferenceEquals(png, original))
                {
                    // CRCs Pillow does not check, recomputed so that ImageSharp reads what Pillow reads.
                    buffered?.Dispose();
                    buffered = new MemoryStream(png, writable: false);
                    seekable = buffered;
                    start = 0;
                }
            }

            BmpHeaderGuard.Check(seekable, source);
            if (StartsWith(seekable, PillowBmp.Handles))
            {
                native = PillowBmp.Decode(ReadRest(seekable), source, maxPixels, fromPath);
                return null;
            }
            if (StartsWith(seekable, PillowTga.Handles))
            {
                native = PillowTga.Decode(ReadRest(seekable), source, maxPixels);
                return null;
            }
            if (StartsWith(seekable, PillowPnm.Handles))
            {
                native = PillowPnm.Decode(ReadRest(seekable), source, maxPixels);
                return null;
            }
            if (StartsWith(seekable, TiffStripGuard.Handles))
            {
                byte[] tiff = ReadRest(seekable);
                seekable.Position = start;
                if (PillowTiffRaw.TryDecode(tiff, source, maxPixels, out native, fromPath))
                {
                    return null;
                }
            }
            IImageInfo? info;
            IImageFormat? format;
            try
            {
                info = Image.Identify(DecodeConfiguration, seekable, out format);
            }
            catch (Exception e) when (e is not OutOfMemoryException and not ImageDecodeException)
            {
                throw Wrap(source, e);
            }
            if (info is null)
            {
                throw new ImageDecodeException(source, "not an image, or a format this library cannot read (JPEG, PNG, GIF, BMP, TIFF, WebP, TGA, PBM)");
            }
            if (format is TgaFormat)
            {
                // ImageSharp's TGA check is looser than Pillow's, which PillowTga.Handles has just failed.
                throw new ImageDecodeException(source, "cannot identify image file: not a TGA file (Pillow's header check fails)");
            }
            CheckSize(info.Width, info.Height, source, maxPixels);

            seekable.Position = start;
            if (format is PngFormat)
            {
                PngInterlaceGuard.Check(seekable, source);
            }
            else if (format is TiffFormat && StartsWith(seekable, TiffStripGuard.Handles))
            {
                TiffStripGuard.Check(ReadRest(seekable), source);
                seekable.Position = start;
            }

            Image image;
            try
            {
                Configuration bounded = DecodeConfiguration.Clone();
                bounded.MemoryAllocator = new BoundedAllocator(DecodeConfiguration.MemoryAllocator, BoundedAllocator.BudgetFor(info.Width, info.Height));
                image = Image.Load(bounded, seekable);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                throw Wrap(source, e);
            }
            try
            {
                while (image.Frames.Count > 1)
                {
                    image.Frames.RemoveFrame(image.Frames.Count - 1);
                }
                image.Mutate(x => x.AutoOrient());
                return image;
            }
            catch
            {
                image.Dispose();
                throw;
            }
        }
        finally
        {
            buffered?.Dispose();
        }
    }

    private delegate bool HeadTest(ReadOnlySpan<byte> head);

    private static bool StartsWith(Stream stream, HeadTest test)
    {
        Span<byte> head = stackalloc byte[18];
        long start = stream.Position;
        int read = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        stream.Position = start;
        return test(head[..read]);
    }

    /// <summary>The rest of a seekable stream, for the decoders that judge a file as a whole.</summary>
    internal static byte[] ReadRest(Stream stream)
    {
        long length = stream.Length - stream.Position;
        if (length > Array.MaxLength)
        {
            throw new ImageDecodeException("stream", $"the file is too large to decode ({length:N0} bytes)");
        }
        byte[] bytes = new byte[length];
        stream.ReadExactly(bytes);
        return bytes;
    }

    private static ImageDecodeException Wrap(string source, Exception e) => e switch
    {
        UnknownImageFormatException => new ImageDecodeException(source, "not an image, or a format this library cannot read", e),
        InvalidImageContentException => new ImageDecodeException(source, $"corrupt or truncated image: {e.Message}", e),
        ImageFormatException => new ImageDecodeException(source, $"unreadable image: {e.Message}", e),
        NotSupportedException => new ImageDecodeException(source, $"unsupported image variant: {e.Message}", e),
        EndOfStreamException => new ImageDecodeException(source, "truncated image", e),
        _ => new ImageDecodeException(source, $"the decoder failed: {e.GetType().Name}: {e.Message}", e),
    };

    internal static void CheckSize(int width, int height, string source, long maxPixels)
    {
        if (width < 1 || height < 1)
        {
            throw new ImageDecodeException(source, $"the image claims {width}x{height} pixels");
        }
        if ((long)width * height > maxPixels)
        {
            throw new ImageDecodeException(source,
                $"{width}x{height} = {(long)width * height:N0} pixels exceeds the limit of {maxPixels:N0} (a possible decompression bomb; raise PreprocessingOptions.MaxPixels to allow it)");
        }
    }

    private static RgbImage ToRgb(Image image)
    {
        RgbImage result = RgbImage.Rent(image.Width, image.Height);
        byte[] rgb = result.Pixels;
        switch (image)
        {
            case Image<Rgb24> direct:
                direct.CopyPixelDataTo(result.Data);
                break;
            case Image<Rgb48> wide:
                HighBytes(wide, rgb, p => (p.R, p.G, p.B));
                break;
            case Image<Rgba64> wide:
                HighBytes(wide, rgb, p => (p.R, p.G, p.B));
                break;
            case Image<La32> wide:
                HighBytes(wide, rgb, p => (p.L, p.L, p.L));
                break;
            case Image<L16> gray:
                // Pillow: 16-bit grayscale opens as mode "I"; convert("RGB") clips values above 255.
                Convert(gray, rgb, p => (byte)Math.Min((int)p.PackedValue, 255));
                break;
            default:
                using (Image<Rgb24> converted = image.CloneAs<Rgb24>())
                {
                    converted.CopyPixelDataTo(result.Data);
                }
                break;
        }
        return result;
    }

    private static void HighBytes<TPixel>(Image<TPixel> image, byte[] rgb, Func<TPixel, (ushort R, ushort G, ushort B)> channels)
        where TPixel : unmanaged, IPixel<TPixel>
    {
        TPixel[] pixels = new TPixel[image.Width * image.Height];
        image.CopyPixelDataTo(pixels);
        for (int i = 0; i < pixels.Length; i++)
        {
            (ushort r, ushort g, ushort b) = channels(pixels[i]);
            rgb[i * 3] = (byte)(r >> 8);
            rgb[(i * 3) + 1] = (byte)(g >> 8);
            rgb[(i * 3) + 2] = (byte)(b >> 8);
        }
    }

    private static void Convert<TPixel>(Image<TPixel> image, byte[] rgb, Func<TPixel, byte> gray)
        where TPixel : unmanaged, IPixel<TPixel>
    {
        TPixel[] pixels = new TPixel[image.Width * image.Height];
        image.CopyPixelDataTo(pixels);
        for (int i = 0; i < pixels.Length; i++)
        {
            byte v = gray(pixels[i]);
            rgb[i * 3] = v;
            rgb[(i * 3) + 1] = v;
            rgb[(i * 3) + 2] = v;
        }
    }
}
