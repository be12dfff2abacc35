using System.Globalization;
using IJepa.Preprocessing;

namespace IJepa.Tests;

/// <summary>
/// Tests written against mutants that Stryker.NET left alive in src/IJepa/Preprocessing (tests/mutants/Preprocessing.md):
/// the options' defaults and presets as transformers, timm and the paper define them, preprocessor_config.json as
/// transformers reads it, and each validation rule at its boundary.
/// </summary>
public class PreprocessingMutantTests
{
    private static PreprocessingOptions Read(string json, PreprocessingBackend? backend = null)
    {
        using TempFolder folder = TestData.NewFolder();
        string path = folder.File("preprocessor_config.json");
        File.WriteAllText(path, json);
        return backend is PreprocessingBackend b ? PreprocessingOptions.FromHuggingFaceConfig(path, b) : PreprocessingOptions.FromHuggingFaceConfig(path);
    }

    // Records compare their list members by reference; this compares every value.
    private static string Fields(PreprocessingOptions o) =>
        FormattableString.Invariant($"{o} {o.RescaleFactor:R} {o.Arithmetic} {o.MaxPixels} {o.Decoding} {o.ReducedDecodeGap} {o.ResizeShorterSide}");

    private static IReadOnlyList<string> Refused(string json, PreprocessingBackend? backend = null) =>
        Assert.Throws<IJepaCheckpointException>(() => Read(json, backend)).Problems;

    [Fact]
    public void The_default_is_the_checkpoints_own_preprocessing()
    {
        PreprocessingOptions d = PreprocessingOptions.HuggingFaceDefault;
        Assert.Equal((224, 224, ResizeMode.Stretch, 248, ResampleFilter.Bilinear), (d.Height, d.Width, d.ResizeMode, d.ResizeShorterSide, d.Filter));
        Assert.Equal((PreprocessingBackend.Torchvision, RescaleArithmetic.TorchvisionFused, ImageDecoding.Native), (d.Backend, d.Arithmetic, d.Decoding));
        Assert.Equal(1 / 255.0, d.RescaleFactor);
        Assert.Equal([0.5f, 0.5f, 0.5f], d.Mean);
        Assert.Equal([0.5f, 0.5f, 0.5f], d.Std);
        Assert.Equal(50_000_000, d.MaxPixels);
        Assert.Equal(2.0, d.ReducedDecodeGap);
        Assert.Equal(0, d.ReduceTo);
        Assert.Empty(d.Validate());
        Assert.Equal(Fields(d), Fields(new PreprocessingOptions()));
    }

    [Fact]
    public void The_arithmetic_follows_the_backend_unless_set()
    {
        Assert.Equal(RescaleArithmetic.TransformersFloat64, new PreprocessingOptions { Backend = PreprocessingBackend.Pil }.Arithmetic);
        Assert.Equal(RescaleArithmetic.TorchvisionFused, new PreprocessingOptions { Backend = PreprocessingBackend.TorchvisionFloat }.Arithmetic);
        Assert.Equal(RescaleArithmetic.TorchvisionFloat32, new PreprocessingOptions { Backend = PreprocessingBackend.Pil, Arithmetic = RescaleArithmetic.TorchvisionFloat32 }.Arithmetic);
        Assert.Equal(RescaleArithmetic.TransformersFloat64, new PreprocessingOptions { Arithmetic = RescaleArithmetic.TransformersFloat64 }.Arithmetic);
    }

    [Fact]
    public void A_reduced_decode_keeps_the_gap_times_the_resize_target()
    {
        var reduced = new PreprocessingOptions { Decoding = ImageDecoding.NativeReduced, Height = 224, Width = 300 };
        Assert.Equal(600, reduced.ReduceTo);
        Assert.Equal(600, (reduced with { Height = 300, Width = 224 }).ReduceTo);
        Assert.Equal(338, (reduced with { ReducedDecodeGap = 1.5, Height = 225, Width = 225 }).ReduceTo);   // ceil(337.5)
        Assert.Equal(512, (reduced with { ResizeMode = ResizeMode.ShorterSideThenCenterCrop, ResizeShorterSide = 256 }).ReduceTo);
        Assert.Equal(0, (reduced with { Decoding = ImageDecoding.ImageSharp }).ReduceTo);
    }

    [Theory]
    [InlineData(224, 248)]
    [InlineData(448, 497)]
    public void The_paper_preset_is_timms_evaluation_transform(int size, int shorter)
    {
        // timm: Resize(int(size / crop_pct)) with crop_pct 0.9, bicubic, CenterCrop(size), ImageNet mean and std.
        PreprocessingOptions paper = PreprocessingOptions.Paper(size);
        Assert.Equal((size, size, ResizeMode.ShorterSideThenCenterCrop, shorter, ResampleFilter.Bicubic), (paper.Height, paper.Width, paper.ResizeMode, paper.ResizeShorterSide, paper.Filter));
        Assert.Equal((PreprocessingBackend.Pil, RescaleArithmetic.TorchvisionFloat32), (paper.Backend, paper.Arithmetic));
        Assert.Equal([0.485f, 0.456f, 0.406f], paper.Mean);
        Assert.Equal([0.229f, 0.224f, 0.225f], paper.Std);
        Assert.Equal(1 / 255.0, paper.RescaleFactor);
        Assert.Empty(paper.Validate());
        Assert.Equal(224, PreprocessingOptions.Paper().Height);
    }

    [Fact]
    public void An_empty_config_is_transformers_defaults()
    {
        Assert.Equal(Fields(PreprocessingOptions.HuggingFaceDefault), Fields(Read("{}")));
        Assert.Equal(Fields(PreprocessingOptions.HuggingFaceDefault), Fields(Read("""{"do_resize": true, "do_rescale": true, "do_normalize": true, "image_mean": null, "image_std": null}""")));
    }

    [Theory]
    [InlineData(1, ResampleFilter.Lanczos, PreprocessingBackend.Pil)]
    [InlineData(2, ResampleFilter.Bilinear, PreprocessingBackend.Torchvision)]
    [InlineData(3, ResampleFilter.Bicubic, PreprocessingBackend.Torchvision)]
    [InlineData(4, ResampleFilter.Box, PreprocessingBackend.Pil)]
    [InlineData(5, ResampleFilter.Hamming, PreprocessingBackend.Pil)]
    public void The_filter_picks_the_backend_transformers_5_would(int code, ResampleFilter filter, PreprocessingBackend backend)
    {
        PreprocessingOptions options = Read($$"""{"resample": {{code}}}""");
        Assert.Equal((filter, backend), (options.Filter, options.Backend));
        Assert.Equal(PreprocessingBackend.Pil, Read($$"""{"resample": {{code}}}""", PreprocessingBackend.Pil).Backend);
        if (backend == PreprocessingBackend.Pil)
        {
            Assert.Equal([$"torchvision resizes tensors with bilinear or bicubic only, not {filter}; use Backend = Pil"],
                Refused($$"""{"resample": {{code}}}""", PreprocessingBackend.Torchvision));
        }
        else
        {
            Assert.Equal(PreprocessingBackend.TorchvisionFloat, Read($$"""{"resample": {{code}}}""", PreprocessingBackend.TorchvisionFloat).Backend);
        }
    }

    [Theory]
    [InlineData("""{"height": 0, "width": 224}""")]
    [InlineData("""{"height": 224, "width": -1}""")]
    [InlineData("""{"height": 224, "width": 0}""")]
    [InlineData("""{"height": 224}""")]
    [InlineData("""{"width": 224}""")]
    [InlineData("""{"height": 224.5, "width": 224}""")]
    [InlineData("""{"height": 224, "width": 3000000000}""")]
    [InlineData("0")]
    [InlineData("-3")]
    [InlineData("2.5")]
    [InlineData("\"224\"")]
    public void Sizes_must_be_positive_integers(string size)
    {
        Assert.Equal([$"size {size} is not {{\"height\": H, \"width\": W}}"], Refused($$"""{"size": {{size}}}"""));
    }

    [Fact]
    public void Sizes_resample_and_rescale_are_read()
    {
        Assert.Equal((1, 2), (Read("""{"size": {"height": 1, "width": 2}}""").Height, Read("""{"size": {"height": 1, "width": 2}}""").Width));
        Assert.Equal((1, 1), (Read("""{"size": 1}""").Height, Read("""{"size": 1}""").Width));
        Assert.Equal(0.5, Read("""{"rescale_factor": 0.5}""").RescaleFactor);
        Assert.Equal(1.0, Read("""{"do_rescale": false, "rescale_factor": 0.5}""").RescaleFactor);
        Assert.Equal(0.5, Read("""{"do_rescale": true, "rescale_factor": 0.5}""").RescaleFactor);
        Assert.Equal(1 / 255.0, Read("""{"rescale_factor": "0.5"}""").RescaleFactor);
        Assert.Equal(1 / 255.0, Read("""{"do_rescale": "no"}""").RescaleFactor);
        Assert.Equal([0.25f, 0.25f, 0.25f], Read("""{"image_mean": 0.25}""").Mean);
        Assert.Equal([2f, 2f, 2f], Read("""{"image_std": 2}""").Std);
        Assert.Equal([0.1f, 0.2f, 0.3f], Read("""{"image_std": [0.1, 0.2, 0.3]}""").Std);
        // Without normalization the mean and std are not read at all (nor checked).
        PreprocessingOptions raw = Read("""{"do_normalize": false, "image_mean": "x", "image_std": [0, 0, 0]}""");
        Assert.Equal([0f, 0f, 0f], raw.Mean);
        Assert.Equal([1f, 1f, 1f], raw.Std);
    }

    [Theory]
    [InlineData("""{"resample": 0}""", "resample 0 is not a supported Pillow filter (1 lanczos, 2 bilinear, 3 bicubic, 4 box, 5 hamming)")]
    [InlineData("""{"resample": 6}""", "resample 6 is not a supported Pillow filter (1 lanczos, 2 bilinear, 3 bicubic, 4 box, 5 hamming)")]
    [InlineData("""{"resample": 2.5}""", "resample 2.5 is not a supported Pillow filter (1 lanczos, 2 bilinear, 3 bicubic, 4 box, 5 hamming)")]
    [InlineData("""{"image_std": [0.5, 0.5, "0.5"]}""", "image_std [0.5, 0.5, \"0.5\"] is not three numbers")]
    [InlineData("""{"image_std": [0.5, 0.5, 0.5, 0.5]}""", "image_std [0.5, 0.5, 0.5, 0.5] is not three numbers")]
    [InlineData("""{"image_mean": {}}""", "image_mean {} is not three numbers")]
    [InlineData("""{"do_resize": false}""", "do_resize = false is not supported: the encoder needs a fixed input size")]
    public void Each_bad_value_is_the_one_problem(string json, string problem)
    {
        Assert.Equal([problem], Refused(json));
    }

    [Fact]
    public void Reading_problems_are_all_listed_and_validation_waits_for_them()
    {
        // A zero std alone is a validation problem; next to reading problems it is not reported.
        Assert.Equal(["Std values must be positive"], Refused("""{"image_std": [1, 0, 1]}"""));
        Assert.Equal(["do_resize = false is not supported: the encoder needs a fixed input size", "size 0 is not {\"height\": H, \"width\": W}", "resample 9 is not a supported Pillow filter (1 lanczos, 2 bilinear, 3 bicubic, 4 box, 5 hamming)", "image_mean [] is not three numbers"],
            Refused("""{"do_resize": false, "size": 0, "resample": 9, "image_mean": [], "image_std": [1, 0, 1]}"""));
    }

    [Fact]
    public void Unreadable_files_and_wrong_json_kinds_are_checkpoint_errors()
    {
        using TempFolder folder = TestData.NewFolder();
        string missing = folder.File("preprocessor_config.json");
        var error = Assert.Throws<IJepaCheckpointException>(() => PreprocessingOptions.FromHuggingFaceConfig(missing));
        Assert.Equal(missing, error.Path);
        Assert.StartsWith("cannot read the preprocessor config: ", Assert.Single(error.Problems), StringComparison.Ordinal);
        Assert.IsType<FileNotFoundException>(error.InnerException);
        Assert.StartsWith("a value has the wrong JSON type: ", Assert.Single(Refused("[1, 2]")), StringComparison.Ordinal);
        Assert.StartsWith("a value has the wrong JSON type: ", Assert.Single(Refused("""{"resample": "2"}""")), StringComparison.Ordinal);
        Assert.StartsWith("not valid JSON: ", Assert.Single(Refused("{")), StringComparison.Ordinal);
    }

    private static readonly PreprocessingOptions Ok = new();

    [Fact]
    public void Output_sizes_are_1_to_4096_per_side()
    {
        foreach ((int h, int w) in new[] { (1, 1), (4096, 4096), (1, 4096) })
        {
            Assert.Empty((Ok with { Height = h, Width = w }).Validate());
        }
        foreach ((int h, int w) in new[] { (0, 224), (224, 0), (4097, 224), (224, 4097) })
        {
            Assert.Equal([$"output size {h}x{w} is outside 1..4096"], (Ok with { Height = h, Width = w }).Validate());
        }
    }

    [Fact]
    public void The_crop_must_fit_in_the_resized_shorter_side()
    {
        var crop = Ok with { ResizeMode = ResizeMode.ShorterSideThenCenterCrop, Height = 200, Width = 224 };
        Assert.Empty((crop with { ResizeShorterSide = 224 }).Validate());
        Assert.Equal(["ResizeShorterSide 223 is smaller than the crop 200x224"], (crop with { ResizeShorterSide = 223 }).Validate());
        Assert.Equal(["ResizeShorterSide 223 is smaller than the crop 224x200"], (crop with { Height = 224, Width = 200, ResizeShorterSide = 223 }).Validate());
        Assert.Empty((Ok with { ResizeShorterSide = 1 }).Validate());   // not cropping: not used
    }

    [Fact]
    public void Each_remaining_rule_at_its_boundary()
    {
        Assert.Equal(["Mean and Std need three values (R, G, B)"], (Ok with { Mean = [0.5f, 0.5f] }).Validate());
        Assert.Equal(["Mean and Std need three values (R, G, B)"], (Ok with { Std = [1f, 1f, 1f, 1f] }).Validate());
        Assert.Equal(["Std values must be positive"], (Ok with { Std = [1f, float.NaN, 1f] }).Validate());
        Assert.Empty((Ok with { Std = [float.Epsilon, 1f, 1f] }).Validate());
        Assert.Equal(["Decoding 7 is not supported"], (Ok with { Decoding = (ImageDecoding)7 }).Validate());
        Assert.Empty((Ok with { ReducedDecodeGap = 1 }).Validate());
        Assert.Empty((Ok with { ReducedDecodeGap = 64 }).Validate());
        foreach (double gap in new[] { 0.999, 64.001, double.NaN })
        {
            Assert.Equal(["ReducedDecodeGap must be between 1 and 64"], (Ok with { ReducedDecodeGap = gap }).Validate());
        }
        Assert.Empty((Ok with { MaxPixels = 1 }).Validate());
        Assert.Equal(["MaxPixels must be positive"], (Ok with { MaxPixels = 0 }).Validate());
        Assert.Equal(["filter 0 is not supported"], (Ok with { Filter = 0 }).Validate());
        Assert.Empty((Ok with { Filter = ResampleFilter.Box, Backend = PreprocessingBackend.Pil }).Validate());
        Assert.Equal(["torchvision resizes tensors with bilinear or bicubic only, not Box; use Backend = Pil"],
            (Ok with { Filter = ResampleFilter.Box, Backend = PreprocessingBackend.TorchvisionFloat }).Validate());
        Assert.Equal(["Backend 3 is not supported"], (Ok with { Backend = (PreprocessingBackend)3 }).Validate());
        Assert.Equal(["Arithmetic 3 is not supported"], (Ok with { Arithmetic = (RescaleArithmetic)3 }).Validate());
        Assert.Equal(7, (Ok with { Height = 0, Mean = [], Decoding = (ImageDecoding)7, ReducedDecodeGap = 0, MaxPixels = 0, Filter = (ResampleFilter)9, Arithmetic = (RescaleArithmetic)9 }).Validate().Count);
    }

    [Fact]
    public void ToString_is_culture_invariant_and_names_a_reduced_decode()
    {
        CultureInfo saved = CultureInfo.CurrentCulture;
        try
        {
            CultureInfo.CurrentCulture = CultureInfo.GetCultureInfo("de-DE");
            Assert.Equal("Torchvision Stretch 224x224 Bilinear, mean [0.5, 0.5, 0.5], std [0.5, 0.5, 0.5]", Ok.ToString());
            Assert.Equal("Pil ShorterSideThenCenterCrop 224x224 Bicubic, mean [0.485, 0.456, 0.406], std [0.229, 0.224, 0.225], reduced JPEG decode (gap 1.5)",
                (PreprocessingOptions.Paper() with { Decoding = ImageDecoding.NativeReduced, ReducedDecodeGap = 1.5 }).ToString());
        }
        finally
        {
            CultureInfo.CurrentCulture = saved;
        }
    }

    // An image whose pixels say where they are: R = 10x, G = 10y, B = x + y.
    private static ImageInput Coordinates(int width, int height, string name = "coordinates")
    {
        var image = new SixLabors.ImageSharp.Image<SixLabors.ImageSharp.PixelFormats.Rgb24>(width, height);
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                image[x, y] = new SixLabors.ImageSharp.PixelFormats.Rgb24((byte)(10 * x), (byte)(10 * y), (byte)(x + y));
            }
        }
        return ImageInput.FromImage(image, name);
    }

    private static readonly PreprocessingOptions Raw = new() { RescaleFactor = 1, Mean = [0f, 0f, 0f], Std = [1f, 1f, 1f] };

    [Fact]
    public void The_preprocessor_checks_its_options_and_the_destination()
    {
        Assert.Throws<ArgumentNullException>(() => new ImagePreprocessor(null!));
        var invalid = Assert.Throws<ArgumentException>(() => new ImagePreprocessor(Ok with { Height = 0, Std = [1f, 0f, 1f] }));
        Assert.Equal("options", invalid.ParamName);
        Assert.StartsWith("Invalid preprocessing options: output size 0x224 is outside 1..4096; Std values must be positive", invalid.Message, StringComparison.Ordinal);
        PreprocessingOptions options = Raw with { Height = 5, Width = 7 };
        var preprocessor = new ImagePreprocessor(options);
        Assert.Same(options, preprocessor.Options);
        Assert.Equal(105, preprocessor.ValuesPerImage);
        Assert.Throws<ArgumentNullException>(() => preprocessor.Preprocess(null!));
        var wrong = Assert.Throws<ArgumentException>(() => preprocessor.Preprocess(Coordinates(7, 5), new float[104]));
        Assert.Equal("destination", wrong.ParamName);
        Assert.StartsWith("destination holds 104 values; one image needs 105", wrong.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(PreprocessingBackend.Torchvision)]
    [InlineData(PreprocessingBackend.Pil)]
    public void Output_is_channel_major_rows_top_to_bottom(PreprocessingBackend backend)
    {
        var preprocessor = new ImagePreprocessor(Raw with { Height = 3, Width = 4, Backend = backend });
        float[] values = preprocessor.Preprocess(Coordinates(4, 3));
        for (int y = 0; y < 3; y++)
        {
            for (int x = 0; x < 4; x++)
            {
                Assert.Equal(10 * x, values[(0 * 12) + (y * 4) + x]);
                Assert.Equal(10 * y, values[(1 * 12) + (y * 4) + x]);
                Assert.Equal(x + y, values[(2 * 12) + (y * 4) + x]);
            }
        }
    }

    [Theory]
    [InlineData(RescaleArithmetic.TransformersFloat64)]
    [InlineData(RescaleArithmetic.TorchvisionFloat32)]
    [InlineData(RescaleArithmetic.TorchvisionFused)]
    public void Each_channel_is_rescaled_and_normalized_with_its_own_mean_and_std(RescaleArithmetic arithmetic)
    {
        // (v · factor − mean[c]) / std[c]; the three arithmetics round differently, by at most a few float32 ulps.
        float[] mean = [0.1f, 0.2f, 0.3f], std = [0.4f, 0.5f, 0.6f];
        var preprocessor = new ImagePreprocessor(new PreprocessingOptions { Height = 3, Width = 4, Mean = mean, Std = std, Arithmetic = arithmetic });
        float[] values = preprocessor.Preprocess(Coordinates(4, 3));
        for (int y = 0; y < 3; y++)
        {
            for (int x = 0; x < 4; x++)
            {
                int[] raw = [10 * x, 10 * y, x + y];
                for (int c = 0; c < 3; c++)
                {
                    double expected = ((raw[c] / 255.0) - mean[c]) / std[c];
                    Assert.True(Math.Abs(values[(c * 12) + (y * 4) + x] - expected) < 1e-6, $"{arithmetic} c{c} ({x},{y}): {values[(c * 12) + (y * 4) + x]} vs {expected}");
                }
            }
        }
        // A rescale factor other than 1/255 is used as given.
        var half = new ImagePreprocessor(Raw with { Height = 3, Width = 4, RescaleFactor = 0.5, Arithmetic = arithmetic });
        Assert.Equal(15f, half.Preprocess(Coordinates(4, 3))[3]);
    }

    [Theory]
    [InlineData(9, 12, 2, 4)]    // portrait: left (9 - 4) / 2 = 2.5 rounds half to even, to 2
    [InlineData(12, 9, 4, 2)]    // landscape: top 2.5 to 2
    [InlineData(11, 13, 4, 4)]   // 3.5 rounds to 4 (half to even), 4.5 to 4
    public void The_center_crop_rounds_offsets_as_python(int width, int height, int left, int top)
    {
        // The shorter side is already the target, so no resampling: the crop alone decides the pixels.
        int side = Math.Min(width, height);
        var preprocessor = new ImagePreprocessor(Raw with { Height = 4, Width = 4, ResizeMode = ResizeMode.ShorterSideThenCenterCrop, ResizeShorterSide = side, Backend = PreprocessingBackend.Pil, Filter = ResampleFilter.Bicubic });
        float[] values = preprocessor.Preprocess(Coordinates(width, height));
        Assert.Equal(10 * left, values[0]);
        Assert.Equal(10 * top, values[16]);
        Assert.Equal(10 * (left + 3), values[15]);
        Assert.Equal(10 * (top + 3), values[31]);
    }

    [Fact]
    public void A_batch_checks_its_arguments_size_and_cancellation()
    {
        var preprocessor = new ImagePreprocessor(Raw with { Height = 3, Width = 4 });
        Assert.Throws<ArgumentNullException>(() => preprocessor.PreprocessBatch(null!));
        // 3 × 224 × 224 values per image: 14,266 images are the most one float array holds; the check refuses
        // before anything is allocated or decoded.
        var big = new ImagePreprocessor(new PreprocessingOptions());
        var tooLarge = Assert.Throws<ArgumentException>(() => big.PreprocessBatch(new Repeated(Coordinates(4, 3), 14_267)));
        Assert.Equal("inputs", tooLarge.ParamName);
        Assert.StartsWith("batch too large", tooLarge.Message, StringComparison.Ordinal);
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => preprocessor.PreprocessBatch([Coordinates(4, 3)], cancellationToken: cancelled.Token).Dispose());
    }

    [Fact]
    public void Torchvision_resize_checks_its_sizes_and_leaves_an_unchanged_size_untouched()
    {
        // A uniform image: any correct resampler keeps its one colour, whatever the filter's weights.
        var source = new RgbImage(10, 8, Enumerable.Repeat((byte)77, 10 * 8 * 3).ToArray());
        Assert.Equal("width", Assert.Throws<ArgumentOutOfRangeException>(() => TorchvisionResampler.Resize(source, 0, 5, ResampleFilter.Bilinear)).ParamName);
        Assert.Equal("height", Assert.Throws<ArgumentOutOfRangeException>(() => TorchvisionResampler.Resize(source, 5, 0, ResampleFilter.Bilinear)).ParamName);
        // torchvision's resize returns its input when the size is already right.
        Assert.Same(source, TorchvisionResampler.Resize(source, 10, 8, ResampleFilter.Bicubic));
        foreach ((int width, int height) in new[] { (10, 5), (4, 8) })
        {
            RgbImage resized = TorchvisionResampler.Resize(source, width, height, ResampleFilter.Bilinear);
            try
            {
                Assert.NotSame(source, resized);
                Assert.Equal((width, height), (resized.Width, resized.Height));
                Assert.True(resized.Data.IndexOfAnyExcept((byte)77) < 0, $"{width}x{height}: a uniform image changed colour");
            }
            finally
            {
                resized.Release();
            }
        }
        var lanczos = Assert.Throws<NotSupportedException>(() => TorchvisionResampler.Resize(source, 5, 5, ResampleFilter.Lanczos));
        Assert.Equal("torchvision resizes tensors with bilinear or bicubic only, not Lanczos", lanczos.Message);
    }

    [Fact]
    public void A_decode_error_reads_source_colon_problem()
    {
        var inner = new InvalidDataException("inner");
        var e = new ImageDecodeException("a.png", "truncated", inner);
        Assert.Equal("a.png: truncated", e.Message);
        Assert.Equal(("a.png", "truncated"), (e.Source, e.Problem));
        Assert.Same(inner, e.InnerException);
    }

    // The same input many times, without a list of that length.
    private sealed class Repeated(ImageInput input, int count) : IReadOnlyList<ImageInput>
    {
        public ImageInput this[int index] => input;

        public int Count => count;

        public IEnumerator<ImageInput> GetEnumerator() => Enumerable.Repeat(input, count).GetEnumerator();

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }

    [Fact]
    public void A_batch_skips_failures_in_place_or_throws_the_first()
    {
        var preprocessor = new ImagePreprocessor(Raw with { Height = 3, Width = 4 });
        ImageInput first = Coordinates(4, 3, "first"), bad = ImageInput.FromBytes(new byte[] { 1, 2, 3 }, "bad"), last = Coordinates(3, 4, "last");
        using (PreprocessedBatch batch = preprocessor.PreprocessBatch([first, bad, last], skipFailures: true))
        {
            Assert.Equal([2L, 3, 3, 4], batch.Pixels!.shape);
            Assert.Equal([first, last], batch.Inputs);
            ImageFailure failure = Assert.Single(batch.Failures);
            Assert.Same(bad, failure.Input);
            Assert.Equal("bad", failure.Error.Source);
            Assert.Equal(preprocessor.Preprocess(first), batch.Pixels[0].data<float>().ToArray());
            Assert.Equal(preprocessor.Preprocess(last), batch.Pixels[1].data<float>().ToArray());
        }
        var thrown = Assert.Throws<ImageDecodeException>(() => preprocessor.PreprocessBatch([first, bad, last]).Dispose());
        Assert.Equal("bad", thrown.Source);
        using PreprocessedBatch none = preprocessor.PreprocessBatch([bad, bad], skipFailures: true);
        Assert.Null(none.Pixels);
        Assert.Empty(none.Inputs);
        Assert.Equal(2, none.Failures.Count);
        using PreprocessedBatch empty = preprocessor.PreprocessBatch([]);
        Assert.Null(empty.Pixels);
    }
}
