using static TorchSharp.torch;

namespace IJepa.Preprocessing;

/// <summary>
/// Turns images into the encoder's normalized input, reproducing the Python pipelines pixel for pixel:
/// decode (Pillow's decoders or their equivalents, with Pillow's mode conversions), resize (torchvision's
/// libtorch call or Pillow's resampling, exactly), crop, rescale and normalize. Thread-safe; one instance serves any number of threads.
/// </summary>
public sealed class ImagePreprocessor
{
    private readonly float[][] _lookup;

    /// <summary>Creates a preprocessor.</summary>
    /// <exception cref="ArgumentException">The options are inconsistent.</exception>
    public ImagePreprocessor(PreprocessingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        IReadOnlyList<string> problems = options.Validate();
        if (problems.Count > 0)
        {
            throw new ArgumentException("Invalid preprocessing options: " + string.Join("; ", problems), nameof(options));
        }
        Options = options;
        _lookup = BuildLookup(options);
    }

    /// <summary>The options in use.</summary>
    public PreprocessingOptions Options { get; }

    /// <summary>Values per image: 3 × height × width.</summary>
    public int ValuesPerImage => 3 * Options.Height * Options.Width;

    /// <summary>
    /// Releases the pixel buffers and decoder memory kept for reuse (bounded: at most a few buffers per
    /// size, 64 MB in ImageSharp's pool). Never needed for correctness; for long-running processes that
    /// want their memory back after a burst of large images.
    /// </summary>
    public static void TrimCaches()
    {
        PixelBuffers.Trim();
        ImageLoader.ReleaseRetainedResources();
    }

    /// <summary>Decodes and normalizes one image into a new array [3, H, W] (channel-major).</summary>
    /// <exception cref="ImageDecodeException">The image is unusable; the exception names it.</exception>
    public float[] Preprocess(ImageInput input)
    {
        float[] values = new float[ValuesPerImage];
        Preprocess(input, values);
        return values;
    }

    /// <summary>Decodes and normalizes one image into <paramref name="destination"/> ([3, H, W], channel-major).</summary>
    /// <exception cref="ImageDecodeException">The image is unusable; the exception names it.</exception>
    public void Preprocess(ImageInput input, Span<float> destination) => PreprocessSized(input, destination);

    /// <summary>
    /// <see cref="Preprocess(ImageInput, Span{float})"/>, returning the source image's size (EXIF orientation
    /// applied; before any reduced decode), which the decoder has just read anyway.
    /// </summary>
    internal (int Width, int Height) PreprocessSized(ImageInput input, Span<float> destination)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (destination.Length != ValuesPerImage)
        {
            throw new ArgumentException($"destination holds {destination.Length} values; one image needs {ValuesPerImage}", nameof(destination));
        }
        RgbImage decoded = input.Decode(Options.MaxPixels, Options.Decoding, Options.ReduceTo);
        (int Width, int Height) size = (decoded.SourceWidth, decoded.SourceHeight);
        RgbImage resized = Resize(decoded);
        Normalize(resized, destination);
        resized.Release();
        decoded.Release(); // no-op when Resize returned the decoded image itself (already released)
        return size;
    }

    /// <summary>
    /// Preprocesses several images in parallel into one tensor [B, 3, H, W]. A bad image either throws
    /// (<paramref name="skipFailures"/> false) or is reported in <see cref="PreprocessedBatch.Failures"/>
    /// while the rest go on.
    /// </summary>
    public PreprocessedBatch PreprocessBatch(IReadOnlyList<ImageInput> inputs, bool skipFailures = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        IJepaRuntime.EnsureInitialized();
        int count = inputs.Count;
        float[] values = new float[(long)count * ValuesPerImage is var n && n <= Array.MaxLength ? (int)n : throw new ArgumentException("batch too large", nameof(inputs))];
        var errors = new ImageDecodeException?[count];
        var sizes = new (int Width, int Height)[count];
        Parallel.For(0, count, new ParallelOptions { CancellationToken = cancellationToken, MaxDegreeOfParallelism = Environment.ProcessorCount }, i =>
        {
            try
            {
                sizes[i] = PreprocessSized(inputs[i], values.AsSpan(i * ValuesPerImage, ValuesPerImage));
            }
            catch (ImageDecodeException e)
            {
                errors[i] = e;
            }
        });

        var succeeded = new List<ImageInput>(count);
        var succeededSizes = new List<(int Width, int Height)>(count);
        var failures = new List<ImageFailure>();
        int kept = 0;
        for (int i = 0; i < count; i++)
        {
            if (errors[i] is { } error)
            {
                if (!skipFailures)
                {
                    throw error;
                }
                failures.Add(new ImageFailure(inputs[i], error));
                continue;
            }
            if (kept != i)
            {
                values.AsSpan(i * ValuesPerImage, ValuesPerImage).CopyTo(values.AsSpan(kept * ValuesPerImage, ValuesPerImage));
            }
            succeeded.Add(inputs[i]);
            succeededSizes.Add(sizes[i]);
            kept++;
        }
        Tensor? pixels = kept == 0 ? null : tensor(values.AsSpan(0, kept * ValuesPerImage).ToArray(), [kept, 3, Options.Height, Options.Width]);
        return new PreprocessedBatch(pixels, succeeded, succeededSizes, failures);
    }

    /// <summary>The 8-bit RGB image after resizing and cropping, before normalization (Pillow-exact).</summary>
    internal RgbImage Resize(RgbImage image)
    {
        if (Options.ResizeMode == ResizeMode.Stretch)
        {
            return Resample(image, Options.Width, Options.Height);
        }
        // torchvision Resize(int): the shorter side to the target, the longer one truncated.
        int target = Options.ResizeShorterSide;
        (int width, int height) = image.Width <= image.Height
            ? (target, (int)((double)target * image.Height / image.Width))
            : ((int)((double)target * image.Width / image.Height), target);
        RgbImage resized = Resample(image, width, height);
        // torchvision CenterCrop: offsets rounded half to even, as Python's round().
        int top = (int)Math.Round((resized.Height - Options.Height) / 2.0, MidpointRounding.ToEven);
        int left = (int)Math.Round((resized.Width - Options.Width) / 2.0, MidpointRounding.ToEven);
        RgbImage cropped = resized.Crop(left, top, Options.Width, Options.Height);
        if (resized != image)
        {
            resized.Release();
        }
        return cropped;
    }

    private RgbImage Resample(RgbImage image, int width, int height) => Options.Backend == PreprocessingBackend.Pil
        ? PillowResampler.Resize(image, width, height, Options.Filter)
        : TorchvisionResampler.Resize(image, width, height, Options.Filter, throughFloat: Options.Backend == PreprocessingBackend.TorchvisionFloat);

    private void Normalize(RgbImage image, Span<float> destination)
    {
        int plane = image.Width * image.Height;
        byte[] pixels = image.Pixels;
        for (int c = 0; c < 3; c++)
        {
            float[] lookup = _lookup[c];
            Span<float> channel = destination.Slice(c * plane, plane);
            for (int i = 0, p = c; i < plane; i++, p += 3)
            {
                channel[i] = lookup[pixels[p]];
            }
        }
    }

    /// <summary>Every 8-bit value's normalized float, per channel, computed with the chosen pipeline's rounding.</summary>
    private static float[][] BuildLookup(PreprocessingOptions options)
    {
        var lookup = new float[3][];
        float divisor = (float)Math.Round(1.0 / options.RescaleFactor, 6);
        for (int c = 0; c < 3; c++)
        {
            lookup[c] = new float[256];
            float mean = options.Mean[c], std = options.Std[c];
            // torchvision's backend folds the rescale into mean and std: float32 tensors times the float64 1 / factor,
            // which libtorch rounds to float32 before multiplying.
            float fusedMean = mean * (float)(1.0 / options.RescaleFactor), fusedStd = std * (float)(1.0 / options.RescaleFactor);
            for (int v = 0; v < 256; v++)
            {
                lookup[c][v] = options.Arithmetic switch
                {
                    RescaleArithmetic.TransformersFloat64 => ((float)(v * options.RescaleFactor) - mean) / std,
                    RescaleArithmetic.TorchvisionFloat32 => ((v / divisor) - mean) / std,
                    _ => (v - fusedMean) / fusedStd,
                };
            }
        }
        return lookup;
    }
}
