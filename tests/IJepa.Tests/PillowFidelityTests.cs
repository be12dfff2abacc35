using System.Text.Json;
using IJepa.Preprocessing;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace IJepa.Tests;

/// <summary>
/// Preprocessing against pixels produced by Pillow 9.4 (tests/reference/images/generate_images.py).
/// Lossless inputs must match bit for bit; JPEG and lossy inputs (decoders differ) within
/// max |Δ| ≤ 3 and mean |Δ| ≤ 0.5 levels per channel.
/// </summary>
public class PillowFidelityTests
{
    public static TheoryData<string, string> LosslessCases() => Cases(lossy: false);

    public static TheoryData<string, string> JpegCases() => Cases(lossy: true);

    private static bool IsJpeg(string name) => name.EndsWith(".jpg", StringComparison.Ordinal);


    private static TheoryData<string, string> Cases(bool lossy)
    {
        var data = new TheoryData<string, string>();
        string manifest = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "images", "expected", "manifest.json"));
        using JsonDocument document = JsonDocument.Parse(manifest);
        foreach (JsonProperty image in document.RootElement.EnumerateObject())
        {
            if (IsJpeg(image.Name) != lossy)
            {
                continue;
            }
            foreach (JsonElement preset in image.Value.GetProperty("presets").EnumerateArray())
            {
                data.Add(image.Name, preset.GetString()!);
            }
        }
        return data;
    }

    internal static PreprocessingOptions Preset(string preset) => preset switch
    {
        "bilinear_224" => new PreprocessingOptions { Backend = PreprocessingBackend.Pil, Filter = ResampleFilter.Bilinear },
        "bicubic_224" => new PreprocessingOptions { Backend = PreprocessingBackend.Pil, Filter = ResampleFilter.Bicubic },
        "bilinear_37x53" => new PreprocessingOptions { Backend = PreprocessingBackend.Pil, Height = 37, Width = 53, Filter = ResampleFilter.Bilinear },
        "bicubic_37x53" => new PreprocessingOptions { Backend = PreprocessingBackend.Pil, Height = 37, Width = 53, Filter = ResampleFilter.Bicubic },
        "paper_224" => PreprocessingOptions.Paper(224),
        "lanczos_37x53" => new PreprocessingOptions { Backend = PreprocessingBackend.Pil, Height = 37, Width = 53, Filter = ResampleFilter.Lanczos },
        "box_37x53" => new PreprocessingOptions { Backend = PreprocessingBackend.Pil, Height = 37, Width = 53, Filter = ResampleFilter.Box },
        "hamming_37x53" => new PreprocessingOptions { Backend = PreprocessingBackend.Pil, Height = 37, Width = 53, Filter = ResampleFilter.Hamming },
        _ => throw new ArgumentOutOfRangeException(nameof(preset), preset, null),
    };

    private static string Input(string name) => Path.Combine(AppContext.BaseDirectory, "images", "input", name);

    private static string Expected(string name) => Path.Combine(AppContext.BaseDirectory, "images", "expected", name);

    [Theory]
    [MemberData(nameof(LosslessCases))]
    public void Lossless_pixels_match_pillow_bit_for_bit(string image, string preset)
    {
        (byte[] ours, byte[] reference) = Run(image, preset);
        int first = FirstDifference(reference, ours);
        Assert.True(first < 0, $"first difference at pixel {first / 3} channel {first % 3}: ours {(first >= 0 ? ours[first] : 0)}, Pillow {(first >= 0 ? reference[first] : 0)}");
    }

    /// <summary>The JPEG target (max ≤ 3, mean ≤ 0.5 levels per channel) with the default libjpeg-turbo decoder.</summary>
    [Theory]
    [MemberData(nameof(JpegCases))]
    public void Jpeg_pixels_match_pillow_within_three_levels(string image, string preset)
    {
        (byte[] ours, byte[] reference) = Run(image, preset);
        for (int c = 0; c < 3; c++)
        {
            (int max, double mean) = Difference(ours, reference, c);
            Assert.True(max <= 3 && mean <= 0.5, $"channel {c}: max |Δ| {max}, mean |Δ| {mean:F3}");
        }
    }

    [Fact]
    public void Animated_webp_without_the_native_decoders_is_a_clear_error()
    {
        // ImageSharp 2.1 cannot decode animated WebP; the default (native libwebp) decoding can, and matches Pillow.
        var imageSharpOnly = new ImagePreprocessor(Preset("bilinear_37x53") with { Decoding = ImageDecoding.ImageSharp });
        var error = Assert.Throws<ImageDecodeException>(() => imageSharpOnly.Preprocess(ImageInput.FromFile(Input("animated_32x24.webp"))));
        Assert.Contains("animated_32x24.webp", error.Message, StringComparison.Ordinal);
    }

    private static (byte[] Ours, byte[] Reference) Run(string image, string preset)
    {
        RgbImage decoded = ImageInput.FromFile(Input(image)).Decode(PreprocessingOptions.DefaultMaxPixels);
        RgbImage ours = preset == "decoded" ? decoded : new ImagePreprocessor(Preset(preset)).Resize(decoded);
        using Image<Rgb24> expected = Image.Load<Rgb24>(Expected($"{image}__{preset}.png"));
        Assert.Equal((expected.Width, expected.Height), (ours.Width, ours.Height));
        byte[] reference = new byte[expected.Width * expected.Height * 3];
        expected.CopyPixelDataTo(reference);
        return (ours.Data.ToArray(), reference);
    }

    private static (int Max, double Mean) Difference(byte[] ours, byte[] reference, int channel)
    {
        int max = 0;
        long sum = 0;
        for (int i = channel; i < reference.Length; i += 3)
        {
            int d = Math.Abs(reference[i] - ours[i]);
            max = Math.Max(max, d);
            sum += d;
        }
        return (max, (double)sum / (reference.Length / 3));
    }

    private static int FirstDifference(byte[] a, byte[] b)
    {
        for (int i = 0; i < a.Length; i++)
        {
            if (a[i] != b[i])
            {
                return i;
            }
        }
        return -1;
    }

    /// <summary>
    /// Every Pillow filter at 33 sizes from one 9 × 6 noise image (tests/reference/images/generate_images.py,
    /// write_resample_matrix): exact ratios put kernel samples on the filters' edges, where a boundary test written
    /// the other way round changes a weight; sizes follow one another, so a pass that read rows it had not written
    /// would see another size's stale pooled pixels.
    /// </summary>
    [Theory]
    [InlineData(ResampleFilter.Lanczos)]
    [InlineData(ResampleFilter.Bilinear)]
    [InlineData(ResampleFilter.Bicubic)]
    [InlineData(ResampleFilter.Box)]
    [InlineData(ResampleFilter.Hamming)]
    public void Every_filter_matches_pillow_at_every_scale(ResampleFilter filter)
    {
        using JsonDocument matrix = JsonDocument.Parse(File.ReadAllText(Expected("resample_matrix.json")));
        string[] filters = [.. matrix.RootElement.GetProperty("filters").EnumerateArray().Select(f => f.GetString()!)];
        (int W, int H)[] sizes = [.. matrix.RootElement.GetProperty("sizes").EnumerateArray().Select(s => (s[0].GetInt32(), s[1].GetInt32()))];
        using var inflate = new System.IO.Compression.ZLibStream(File.OpenRead(Expected("resample_matrix.bin")), System.IO.Compression.CompressionMode.Decompress);
        using var all = new MemoryStream();
        inflate.CopyTo(all);
        byte[] expected = all.ToArray();
        int perFilter = sizes.Sum(s => s.W * s.H * 3);
        Assert.Equal(filters.Length * perFilter, expected.Length);
        int offset = Array.IndexOf(filters, filter.ToString().ToLowerInvariant()) * perFilter;
        RgbImage source = ImageInput.FromFile(Input(matrix.RootElement.GetProperty("input").GetString()!)).Decode(PreprocessingOptions.DefaultMaxPixels);
        foreach ((int w, int h) in sizes)
        {
            var preprocessor = new ImagePreprocessor(new PreprocessingOptions { Backend = PreprocessingBackend.Pil, Width = w, Height = h, Filter = filter });
            RgbImage ours = preprocessor.Resize(source);
            Assert.Equal((w, h), (ours.Width, ours.Height));
            if ((w, h) == (source.Width, source.Height))
            {
                Assert.Same(source, ours); // Pillow copies; the bytes are the same, so no work at all
            }
            ReadOnlySpan<byte> pillow = expected.AsSpan(offset, w * h * 3);
            int first = FirstDifference(pillow.ToArray(), ours.Data.ToArray());
            Assert.True(first < 0, $"{filter} 9x6 -> {w}x{h}: first difference at pixel {first / 3} channel {first % 3}");
            offset += w * h * 3;
            if (ours != source)
            {
                ours.Release();
            }
        }
    }

    [Fact]
    public void An_unknown_filter_is_refused_by_name()
    {
        RgbImage source = ImageInput.FromFile(Input("small_17x23.png")).Decode(PreprocessingOptions.DefaultMaxPixels);
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => PillowResampler.Resize(source, 5, 5, (ResampleFilter)9));
        Assert.Equal("filter", error.ParamName);
        Assert.StartsWith("unsupported resampling filter", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("hf_bilinear_37x53")]
    [InlineData("imagenet_bicubic_37x53")]
    public void Normalized_values_match_python_to_the_bit(string name)
    {
        PreprocessingOptions options = name.StartsWith("hf", StringComparison.Ordinal)
            ? Preset("bilinear_37x53")
            : Preset("bicubic_37x53") with { Mean = [0.485f, 0.456f, 0.406f], Std = [0.229f, 0.224f, 0.225f], Arithmetic = RescaleArithmetic.TorchvisionFloat32 };
        float[] ours = new ImagePreprocessor(options).Preprocess(ImageInput.FromFile(Input("photo_flower.png")));
        using Tensor expected = TestData.ReadTensor(Expected("photo_flower.png__normalized.safetensors"), name);
        Assert.Equal(expected.data<float>().ToArray(), ours);
    }
}
