using System.IO.Compression;
using System.Text.Json;
using IJepa.Checkpoints.Original;

namespace IJepa.Tests;

/// <summary>Original I-JEPA training checkpoints against the float64 numpy reference (tests/reference/generate_original.py).</summary>
public class OriginalCheckpointTests
{
    private const int Heads = 4; // width 32 is not a published width, so the heads are given

    private static string File(string name) => Path.Combine(AppContext.BaseDirectory, "original", name);

    private static string Expected => File("expected.safetensors");

    private static Tensor Reference(string name) => TestData.ReadTensor(Expected, name);

    private static List<Tensor> Masks(string key)
    {
        using SafetensorsFile file = SafetensorsFile.Open(Expected);
        long[][][] masks = JsonSerializer.Deserialize<long[][][]>(file.Metadata[key])!;
        return masks.Select(m => tensor(m.SelectMany(r => r).ToArray(), [m.Length, m[0].Length])).ToList();
    }

    internal static void AssertClose(Tensor expected64, Tensor actual, string what)
    {
        using Tensor a = actual.to(ScalarType.Float64);
        Assert.Equal(expected64.shape, a.shape);
        double scale = expected64.abs().max().item<double>();
        double error = (a - expected64).abs().max().item<double>();
        Assert.True(error <= 1e-4 * scale, $"{what}: max |Δ| {error:G3} > 1e-4 × {scale:G3}");
    }

    [Fact]
    public void Opening_lists_the_parts_and_bookkeeping_without_reading_tensors()
    {
        using OriginalCheckpoint checkpoint = OriginalCheckpoint.Open(File("tiny-ijepa.pth.tar"));
        Assert.Equal(["encoder", "predictor", "target_encoder"], checkpoint.Parts);
        Assert.Equal("300", checkpoint.Info["epoch"]);
        Assert.Equal("16", checkpoint.Info["world_size"]);
        Assert.Equal(0, checkpoint.BytesRead);
        IJepaConfig config = checkpoint.InferEncoderConfig(numAttentionHeads: Heads);
        Assert.Equal((32, 2, 64, 7, 42), (config.HiddenSize, config.NumHiddenLayers, config.IntermediateSize, config.PatchSize, config.ImageSize));
        var error = Assert.Throws<IJepaCheckpointException>(() => checkpoint.InferEncoderConfig());
        Assert.Contains("attention heads", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(EncoderPart.Encoder, "encoder_last_hidden_state")]
    [InlineData(EncoderPart.TargetEncoder, "target_encoder_last_hidden_state")]
    public void Both_encoders_match_the_reference_and_only_their_tensors_are_read(EncoderPart part, string expected)
    {
        using OriginalCheckpoint checkpoint = OriginalCheckpoint.Open(File("tiny-ijepa.pth.tar"));
        using IJepaModel model = checkpoint.LoadEncoder(part, numAttentionHeads: Heads);
        Assert.Equal(checkpoint.PartBytes(part == EncoderPart.Encoder ? "encoder" : "target_encoder"), checkpoint.BytesRead);
        using Tensor pixels = Reference("pixel_values");
        using IJepaModelOutput output = model.Forward(pixels);
        using Tensor reference = Reference(expected);
        AssertClose(reference, output.LastHiddenState, expected);
    }

    [Fact]
    public void Masked_context_encoding_and_the_predictor_match_the_reference()
    {
        using OriginalCheckpoint checkpoint = OriginalCheckpoint.Open(File("tiny-ijepa.pth.tar"));
        using IJepaModel encoder = checkpoint.LoadEncoder(EncoderPart.Encoder, numAttentionHeads: Heads);
        using IJepaPredictor predictor = checkpoint.LoadPredictor(numAttentionHeads: Heads);
        Assert.Equal(new IJepaPredictorConfig(32, 24, 2, Heads, 48, 6), predictor.Config);
        using Tensor pixels = Reference("pixel_values");
        List<Tensor> context = Masks("masks_enc"), targets = Masks("masks_pred");
        using Tensor encoded = encoder.ForwardMasked(pixels, context);
        using Tensor expectedContext = Reference("masked_context");
        AssertClose(expectedContext, encoded, "masked context");
        using Tensor predicted = predictor.Forward(encoded, context, targets);
        using Tensor expectedPrediction = Reference("predicted");
        AssertClose(expectedPrediction, predicted, "predicted");
        context.Concat(targets).ToList().ForEach(t => t.Dispose());
    }

    [Fact]
    public void The_fixed_sin_cos_positions_are_the_original_ones()
    {
        using Tensor ours = IJepaPredictor.SinCosPositions(24, 6);
        using Tensor reference = Reference("predictor_pos_embed");
        Assert.True((ours - reference[0]).abs().max().item<double>() < 1e-12);
    }

    [Fact]
    public void A_missing_part_is_a_clear_error()
    {
        using OriginalCheckpoint checkpoint = OriginalCheckpoint.Open(File("tiny-no-predictor.pth.tar"));
        var error = Assert.Throws<IJepaCheckpointException>(() => checkpoint.LoadPredictor(numAttentionHeads: Heads));
        Assert.Contains("no 'predictor'", error.Message, StringComparison.Ordinal);
        Assert.Contains("tiny-no-predictor.pth.tar", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Mismatched_shapes_are_listed()
    {
        using OriginalCheckpoint checkpoint = OriginalCheckpoint.Open(File("tiny-bad-shape.pth.tar"));
        var error = Assert.Throws<IJepaCheckpointException>(() => checkpoint.LoadEncoder(EncoderPart.TargetEncoder, numAttentionHeads: Heads));
        Assert.Contains("target_encoder.blocks.1.mlp.fc1.weight' is [65,32]", error.Message, StringComparison.Ordinal);
        using IJepaModel fine = checkpoint.LoadEncoder(EncoderPart.Encoder, numAttentionHeads: Heads);
    }

    [Fact]
    public void Truncated_archives_are_clear_errors()
    {
        using TempFolder folder = TestData.NewFolder();
        byte[] bytes = System.IO.File.ReadAllBytes(File("tiny-ijepa.pth.tar"));
        foreach (int keep in new[] { 0, 100, bytes.Length / 2, bytes.Length - 30 })
        {
            string path = folder.File($"cut{keep}.pth.tar");
            System.IO.File.WriteAllBytes(path, bytes[..keep]);
            var error = Assert.Throws<IJepaCheckpointException>(() =>
            {
                using OriginalCheckpoint c = OriginalCheckpoint.Open(path);
                using IJepaModel m = c.LoadEncoder(numAttentionHeads: Heads);
            });
            Assert.Equal(path, error.Path);
        }
    }

    [Theory]
    [InlineData("os", "system")]
    [InlineData("builtins", "eval")]
    [InlineData("torch", "load")]
    [InlineData("src.models.vision_transformer", "VisionTransformer")]
    public void Foreign_pickle_globals_are_refused_before_anything_runs(string module, string name)
    {
        using TempFolder folder = TestData.NewFolder();
        string path = folder.File("evil.pth.tar");
        // {'encoder': module.name('echo pwned')} as protocol 2: GLOBAL, argument tuple, REDUCE.
        byte[] pickle = [0x80, 2, (byte)'}', (byte)'q', 0, (byte)'X', 7, 0, 0, 0, .. "encoder"u8, (byte)'c', .. System.Text.Encoding.ASCII.GetBytes($"{module}\n{name}\n"),
            (byte)'X', 10, 0, 0, 0, .. "echo pwned"u8, 0x85, (byte)'R', (byte)'s', (byte)'.'];
        using (ZipArchive zip = ZipFile.Open(path, ZipArchiveMode.Create))
        {
            using Stream entry = zip.CreateEntry("evil/data.pkl", CompressionLevel.NoCompression).Open();
            entry.Write(pickle);
        }
        var error = Assert.Throws<IJepaCheckpointException>(() => OriginalCheckpoint.Open(path));
        Assert.Contains($"refusing to unpickle: it references '{module}.{name}'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_converted_folder_loads_and_gives_the_same_features()
    {
        using TempFolder folder = TestData.NewFolder();
        using (OriginalCheckpoint checkpoint = OriginalCheckpoint.Open(File("tiny-ijepa.pth.tar")))
        {
            checkpoint.SaveAsHuggingFace(folder.Path, EncoderPart.TargetEncoder, numAttentionHeads: Heads);
        }
        using IJepaModel model = IJepaModel.FromPretrained(folder.Path);
        using Tensor pixels = Reference("pixel_values");
        using IJepaModelOutput output = model.Forward(pixels);
        using Tensor reference = Reference("target_encoder_last_hidden_state");
        AssertClose(reference, output.LastHiddenState, "converted");
        Assert.True(System.IO.File.Exists(folder.File("preprocessor_config.json")));
    }
}
