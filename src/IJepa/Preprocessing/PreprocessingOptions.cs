using System.Globalization;
using System.Text.Json;

namespace IJepa.Preprocessing;

/// <summary>
/// Everything that turns an image into the model's normalized input. Use a preset —
/// <see cref="FromHuggingFaceConfig(string)"/> (what transformers does with the checkpoint's
/// preprocessor_config.json), <see cref="Paper"/> (timm/torchvision evaluation) — or set the fields.
/// </summary>
public sealed record PreprocessingOptions
{
    private readonly RescaleArithmetic? _arithmetic;

    /// <summary>
    /// Default pixel limit: 50 million, enough for a 48-megapixel photo. Pillow warns at 89.5 million, but
    /// a 16-bit image that size needs over 1 GB to decode here (ImageSharp's 64-bit pixels plus the 8-bit
    /// copy); the fuzzer found 1 KB PNG headers claiming 63 million pixels that did just that.
    /// </summary>
    public const long DefaultMaxPixels = 50_000_000;

    /// <summary>
    /// Largest output side. I-JEPA checkpoints use 224 and 448; 4096 keeps one preprocessed image under
    /// 200 MB, where 16384 would need 3.2 GB (found by fuzzing preprocessor_config.json).
    /// </summary>
    public const int MaxSide = 4096;

    /// <summary>Output height in pixels.</summary>
    public int Height { get; init; } = 224;

    /// <summary>Output width in pixels.</summary>
    public int Width { get; init; } = 224;

    /// <summary>How the image is brought to <see cref="Height"/> × <see cref="Width"/>.</summary>
    public ResizeMode ResizeMode { get; init; } = ResizeMode.Stretch;

    /// <summary>With <see cref="ResizeMode.ShorterSideThenCenterCrop"/>: the shorter side's length before cropping.</summary>
    public int ResizeShorterSide { get; init; } = 248;

    /// <summary>Resampling filter (Pillow's codes; antialiased when downscaling, as both backends do).</summary>
    public ResampleFilter Filter { get; init; } = ResampleFilter.Bilinear;

    /// <summary>
    /// Which Python pipeline to reproduce: <see cref="PreprocessingBackend.Torchvision"/> (default; transformers 5's
    /// <c>ViTImageProcessor</c>) or <see cref="PreprocessingBackend.Pil"/> (<c>ViTImageProcessorPil</c>, transformers 4).
    /// </summary>
    public PreprocessingBackend Backend { get; init; } = PreprocessingBackend.Torchvision;

    /// <summary>Factor applied to 0–255 values (1/255 in every I-JEPA checkpoint).</summary>
    public double RescaleFactor { get; init; } = 1.0 / 255.0;

    /// <summary>Per-channel mean subtracted after rescaling (R, G, B).</summary>
    public IReadOnlyList<float> Mean { get; init; } = [0.5f, 0.5f, 0.5f];

    /// <summary>Per-channel standard deviation divided by after subtracting the mean (R, G, B).</summary>
    public IReadOnlyList<float> Std { get; init; } = [0.5f, 0.5f, 0.5f];

    /// <summary>
    /// Rounding behaviour of the Python pipeline being reproduced. Unless set, the one <see cref="Backend"/> implies:
    /// <see cref="RescaleArithmetic.TorchvisionFused"/> for torchvision, <see cref="RescaleArithmetic.TransformersFloat64"/> for PIL.
    /// </summary>
    public RescaleArithmetic Arithmetic
    {
        get => _arithmetic ?? (Backend == PreprocessingBackend.Pil ? RescaleArithmetic.TransformersFloat64 : RescaleArithmetic.TorchvisionFused);
        init => _arithmetic = value;
    }

    /// <summary>Images with more pixels than this are refused before decoding (decompression bombs).</summary>
    public long MaxPixels { get; init; } = DefaultMaxPixels;

    /// <summary>
    /// Which decoders read the image. <see cref="ImageDecoding.Native"/> (default) gives Pillow's JPEG and WebP
    /// pixels exactly; <see cref="ImageDecoding.ImageSharp"/> avoids SkiaSharp's native library.
    /// </summary>
    public ImageDecoding Decoding { get; init; } = ImageDecoding.Native;

    /// <summary>
    /// With <see cref="ImageDecoding.NativeReduced"/>: how much larger than the resize target (the longer output
    /// side, or <see cref="ResizeShorterSide"/>) the shorter side of a reduced decode must stay (default 2, like
    /// Pillow's <c>reducing_gap</c>); the exact antialiased resize does the rest.
    /// </summary>
    public double ReducedDecodeGap { get; init; } = 2.0;

    /// <summary>The shortest side a reduced decode may have; 0 when decoding is not reduced.</summary>
    internal int ReduceTo => Decoding == ImageDecoding.NativeReduced
        ? (int)Math.Ceiling(ReducedDecodeGap * (ResizeMode == ResizeMode.ShorterSideThenCenterCrop ? ResizeShorterSide : Math.Max(Height, Width)))
        : 0;

    /// <summary>
    /// The I-JEPA checkpoints' own preprocessing as transformers 5 runs it by default: bilinear to 224 × 224 through
    /// torchvision, mean = std = 0.5.
    /// </summary>
    public static PreprocessingOptions HuggingFaceDefault { get; } = new();

    /// <summary>
    /// The paper's / timm's evaluation transform on PIL images: shorter side to floor(size / 0.9) with bicubic,
    /// center crop size × size, ImageNet mean and std, torchvision arithmetic.
    /// </summary>
    public static PreprocessingOptions Paper(int size = 224) => new()
    {
        Backend = PreprocessingBackend.Pil,
        Height = size,
        Width = size,
        ResizeMode = ResizeMode.ShorterSideThenCenterCrop,
        ResizeShorterSide = (int)(size / 0.9),
        Filter = ResampleFilter.Bicubic,
        Mean = [0.485f, 0.456f, 0.406f],
        Std = [0.229f, 0.224f, 0.225f],
        Arithmetic = RescaleArithmetic.TorchvisionFloat32,
    };

    /// <summary>
    /// Reads a Hugging Face <c>preprocessor_config.json</c> (ViTImageProcessor fields: do_resize, size,
    /// resample, do_rescale, rescale_factor, do_normalize, image_mean, image_std) the way transformers 5's default
    /// processor uses it: the torchvision backend, or the PIL one where the filter is one torchvision's tensor resize
    /// lacks (lanczos, box, hamming), since only the PIL processor can run those.
    /// </summary>
    /// <exception cref="IJepa.Checkpoints.IJepaCheckpointException">The file is unreadable or holds values this library cannot reproduce.</exception>
    public static PreprocessingOptions FromHuggingFaceConfig(string path) => Read(path, backend: null);

    /// <summary>Reads a Hugging Face <c>preprocessor_config.json</c> for the given backend.</summary>
    /// <exception cref="IJepa.Checkpoints.IJepaCheckpointException">The file is unreadable or holds values this library cannot reproduce with that backend.</exception>
    public static PreprocessingOptions FromHuggingFaceConfig(string path, PreprocessingBackend backend) => Read(path, backend);

    // backend null: transformers 5's choice, torchvision unless the filter needs PIL.
    private static PreprocessingOptions Read(string path, PreprocessingBackend? backend)
    {
        string fullPath = Path.GetFullPath(path);
        try
        {
            using JsonDocument document = JsonDocument.Parse(File.ReadAllBytes(fullPath));
            JsonElement root = document.RootElement;
            var problems = new List<string>();
            var options = new PreprocessingOptions();
            bool doResize = Bool(root, "do_resize", true);
            if (!doResize)
            {
                problems.Add("do_resize = false is not supported: the encoder needs a fixed input size");
            }
            if (root.TryGetProperty("size", out JsonElement size))
            {
                if (size.ValueKind == JsonValueKind.Object && size.TryGetProperty("height", out JsonElement h) && size.TryGetProperty("width", out JsonElement w)
                    && h.TryGetInt32(out int height) && w.TryGetInt32(out int width) && height > 0 && width > 0)
                {
                    options = options with { Height = height, Width = width };
                }
                else if (size.ValueKind == JsonValueKind.Number && size.TryGetInt32(out int side) && side > 0)
                {
                    options = options with { Height = side, Width = side };
                }
                else
                {
                    problems.Add($"size {size.GetRawText()} is not {{\"height\": H, \"width\": W}}");
                }
            }
            if (root.TryGetProperty("resample", out JsonElement resample))
            {
                if (resample.TryGetInt32(out int code) && Enum.IsDefined((ResampleFilter)code))
                {
                    options = options with { Filter = (ResampleFilter)code };
                }
                else
                {
                    problems.Add($"resample {resample.GetRawText()} is not a supported Pillow filter (1 lanczos, 2 bilinear, 3 bicubic, 4 box, 5 hamming)");
                }
            }
            double rescale = Bool(root, "do_rescale", true) ? Number(root, "rescale_factor", 1.0 / 255.0) : 1.0;
            options = options with { RescaleFactor = rescale };
            if (Bool(root, "do_normalize", true))
            {
                options = options with
                {
                    Mean = Triple(root, "image_mean", [0.5f, 0.5f, 0.5f], problems),
                    Std = Triple(root, "image_std", [0.5f, 0.5f, 0.5f], problems),
                };
            }
            else
            {
                options = options with { Mean = [0f, 0f, 0f], Std = [1f, 1f, 1f] };
            }
            options = options with
            {
                Backend = backend ?? (TorchvisionCanResize(options.Filter) ? PreprocessingBackend.Torchvision : PreprocessingBackend.Pil),
            };
            if (problems.Count == 0)
            {
                // Values each well-formed can still make an unusable whole (e.g. a zero std).
                problems.AddRange(options.Validate());
            }
            if (problems.Count > 0)
            {
                throw new IJepa.Checkpoints.IJepaCheckpointException(fullPath, problems);
            }
            return options;
        }
        catch (InvalidOperationException e)
        {
            // A JSON value of the wrong kind (an array where a number belongs, a list as the root; found by fuzzing).
            throw new IJepa.Checkpoints.IJepaCheckpointException(fullPath, $"a value has the wrong JSON type: {e.Message}", e);
        }
        catch (JsonException e)
        {
            throw new IJepa.Checkpoints.IJepaCheckpointException(fullPath, $"not valid JSON: {e.Message}", e);
        }
        catch (Exception e) when (e is IOException and not IJepa.Checkpoints.IJepaCheckpointException or UnauthorizedAccessException)
        {
            throw new IJepa.Checkpoints.IJepaCheckpointException(fullPath, $"cannot read the preprocessor config: {e.Message}", e);
        }
    }

    /// <summary>Checks the options; lists what is wrong (empty when fine).</summary>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        if (Height < 1 || Width < 1 || Height > MaxSide || Width > MaxSide)
        {
            problems.Add($"output size {Height}x{Width} is outside 1..{MaxSide}");
        }
        if (ResizeMode == ResizeMode.ShorterSideThenCenterCrop && ResizeShorterSide < Math.Max(Height, Width))
        {
            problems.Add($"ResizeShorterSide {ResizeShorterSide} is smaller than the crop {Height}x{Width}");
        }
        if (Mean.Count != 3 || Std.Count != 3)
        {
            problems.Add("Mean and Std need three values (R, G, B)");
        }
        else if (Std.Any(s => !(s > 0)))
        {
            problems.Add("Std values must be positive");
        }
        if (!Enum.IsDefined(Decoding))
        {
            problems.Add($"Decoding {Decoding} is not supported");
        }
        if (!(ReducedDecodeGap >= 1) || ReducedDecodeGap > 64)
        {
            problems.Add("ReducedDecodeGap must be between 1 and 64");
        }
        if (MaxPixels < 1)
        {
            problems.Add("MaxPixels must be positive");
        }
        if (!Enum.IsDefined(Filter))
        {
            problems.Add($"filter {Filter} is not supported");
        }
        else if (Backend != PreprocessingBackend.Pil && !TorchvisionCanResize(Filter))
        {
            problems.Add($"torchvision resizes tensors with bilinear or bicubic only, not {Filter}; use Backend = Pil");
        }
        if (!Enum.IsDefined(Backend))
        {
            problems.Add($"Backend {Backend} is not supported");
        }
        if (!Enum.IsDefined(Arithmetic))
        {
            problems.Add($"Arithmetic {Arithmetic} is not supported");
        }
        return problems;
    }

    /// <summary>torchvision resizes tensors with bilinear and bicubic only (its other filters need PIL images).</summary>
    internal static bool TorchvisionCanResize(ResampleFilter filter) => filter is ResampleFilter.Bilinear or ResampleFilter.Bicubic;

    private static bool Bool(JsonElement root, string name, bool fallback) =>
        root.TryGetProperty(name, out JsonElement v) && v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : fallback;

    private static double Number(JsonElement root, string name, double fallback) =>
        root.TryGetProperty(name, out JsonElement v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : fallback;

    private static float[] Triple(JsonElement root, string name, float[] fallback, List<string> problems)
    {
        if (!root.TryGetProperty(name, out JsonElement v) || v.ValueKind == JsonValueKind.Null)
        {
            return fallback;
        }
        if (v.ValueKind == JsonValueKind.Number)
        {
            float single = (float)v.GetDouble();
            return [single, single, single];
        }
        if (v.ValueKind == JsonValueKind.Array && v.GetArrayLength() == 3 && v.EnumerateArray().All(e => e.ValueKind == JsonValueKind.Number))
        {
            return v.EnumerateArray().Select(e => (float)e.GetDouble()).ToArray();
        }
        problems.Add($"{name} {v.GetRawText()} is not three numbers");
        return fallback;
    }

    // string.Join would format each float in the current culture ("0,5" in German) before string.Create sees it.
    private static string Invariant(IReadOnlyList<float> values) => string.Join(", ", values.Select(v => v.ToString(CultureInfo.InvariantCulture)));

    /// <inheritdoc />
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Backend} {ResizeMode} {Height}x{Width} {Filter}, mean [{Invariant(Mean)}], std [{Invariant(Std)}]")
        + (Decoding == ImageDecoding.NativeReduced ? string.Create(CultureInfo.InvariantCulture, $", reduced JPEG decode (gap {ReducedDecodeGap})") : "");
}
