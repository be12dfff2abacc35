using IJepa.Preprocessing;

namespace IJepa.Tests;

/// <summary>preprocessor_config.json: what is read, and every value the library refuses, each with its reason.</summary>
public class PreprocessorConfigTests
{
    private static PreprocessingOptions Read(string json)
    {
        using TempFolder folder = TestData.NewFolder();
        File.WriteAllText(folder.File("preprocessor_config.json"), json);
        return PreprocessingOptions.FromHuggingFaceConfig(folder.File("preprocessor_config.json"));
    }

    [Theory]
    [InlineData("""{"image_std": [0.5, 0, 0.5]}""", "Std values must be positive")]
    [InlineData("""{"image_std": [0.5, -1, 0.5]}""", "Std values must be positive")]
    [InlineData("""{"image_std": 0}""", "Std values must be positive")]
    [InlineData("""{"image_mean": [0.5, 0.5]}""", "image_mean [0.5, 0.5] is not three numbers")]
    [InlineData("""{"do_resize": false}""", "do_resize = false is not supported")]
    [InlineData("""{"size": {"shortest_edge": 224}}""", "is not {\"height\": H, \"width\": W}")]
    [InlineData("""{"size": {"height": 224, "width": 99999}}""", "outside 1..4096")]
    [InlineData("""{"resample": 7}""", "resample 7 is not a supported Pillow filter")]
    [InlineData("""{"size": [224, 224]}""", "is not {\"height\": H, \"width\": W}")]
    [InlineData("""{"image_mean": "half"}""", "image_mean \"half\" is not three numbers")]
    [InlineData("""{"size": 224""", "not valid JSON")]
    public void Bad_values_are_refused_with_the_reason(string json, string reason)
    {
        var error = Assert.Throws<IJepaCheckpointException>(() => Read(json));
        Assert.EndsWith("preprocessor_config.json", error.Path, StringComparison.Ordinal);
        Assert.Contains(reason, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Values_are_read_as_transformers_reads_them()
    {
        PreprocessingOptions options = Read("""
            {"do_resize": true, "size": {"height": 448, "width": 320}, "resample": 3, "rescale_factor": 0.00392156862745098,
             "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225]}
            """);
        Assert.Equal((448, 320, ResampleFilter.Bicubic), (options.Height, options.Width, options.Filter));
        Assert.Equal([0.485f, 0.456f, 0.406f], options.Mean);
        Assert.Equal([0.229f, 0.224f, 0.225f], options.Std);
        Assert.Equal(1 / 255.0, options.RescaleFactor);

        PreprocessingOptions square = Read("""{"size": 96, "do_normalize": false, "do_rescale": false}""");
        Assert.Equal((96, 96), (square.Height, square.Width));
        Assert.Equal([0f, 0f, 0f], square.Mean);
        Assert.Equal([1f, 1f, 1f], square.Std);
        Assert.Equal(1.0, square.RescaleFactor);
    }
}
