using System.Text.Json;
using TorchSharp;

namespace IJepa.Tests;

/// <summary>
/// Tests written against mutants that Stryker.NET left alive in src/IJepa/Model (tests/mutants/Model.md):
/// the model's construction, input checks, masked encoding, outputs and the predictor (config.json: ModelConfigMutantTests).
/// </summary>
public class ModelMutantTests
{
    /// <summary>A small valid config (also ModelConfigMutantTests' starting point).</summary>
    internal static IJepaConfig Base => new()
    {
        HiddenSize = 48,
        NumHiddenLayers = 4,
        NumAttentionHeads = 6,
        IntermediateSize = 100,
        PatchSize = 14,
        ImageSize = 70,
    };

    private static double MaxAbs(Tensor t) => t.abs().max().to(ScalarType.Float64).item<double>();

    private static bool Identical(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    private static IJepaModel TinyModel() => IJepaModel.FromPretrained(TestData.Reference("ijepa_tiny_p14"));

    [Fact]
    public void Create_refuses_an_invalid_config_or_dtype()
    {
        Assert.Throws<ArgumentNullException>(() => IJepaModel.Create(null!));
        var config = Assert.Throws<ArgumentException>(() => IJepaModel.Create(Base with { HiddenSize = 50, ImageSize = 13 }));
        Assert.Equal("config", config.ParamName);
        Assert.StartsWith("Invalid configuration: hidden_size 50 is not a multiple of num_attention_heads 6; image_size 13 is smaller than patch_size 14", config.Message, StringComparison.Ordinal);
        var dtype = Assert.Throws<ArgumentException>(() => IJepaModel.Create(Base, ScalarType.Int32));
        Assert.Equal("dtype", dtype.ParamName);
        Assert.Contains("Int32", dtype.Message, StringComparison.Ordinal);
        foreach (ScalarType ok in new[] { ScalarType.Float32, ScalarType.Float64, ScalarType.Float16, ScalarType.BFloat16 })
        {
            using IJepaModel model = IJepaModel.Create(Base, ok);
            Assert.Equal(ok, model.DType);
            Assert.Equal(TorchSharp.DeviceType.CPU, model.Device.type);
            Assert.Equal(Base, model.Config);
            Assert.False(model.training);
            Assert.All(model.parameters(), p => Assert.Equal(ok, p.dtype));
        }
    }

    [Fact]
    public void The_parameters_are_transformers_IJepaModel_state_dict()
    {
        using IJepaModel model = IJepaModel.Create(Base with { NumHiddenLayers = 2, QkvBias = false });
        var shapes = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.shape);
        var expected = new Dictionary<string, long[]>
        {
            ["embeddings.position_embeddings"] = [1, 25, 48],
            ["embeddings.patch_embeddings.projection.weight"] = [48, 3, 14, 14],
            ["embeddings.patch_embeddings.projection.bias"] = [48],
            ["layernorm.weight"] = [48],
            ["layernorm.bias"] = [48],
        };
        for (int i = 0; i < 2; i++)
        {
            string l = $"encoder.layer.{i}.";
            foreach (string p in new[] { "query", "key", "value" })
            {
                expected[l + $"attention.attention.{p}.weight"] = [48, 48];
            }
            expected[l + "attention.output.dense.weight"] = [48, 48];
            expected[l + "attention.output.dense.bias"] = [48];
            expected[l + "intermediate.dense.weight"] = [100, 48];
            expected[l + "intermediate.dense.bias"] = [100];
            expected[l + "output.dense.weight"] = [48, 100];
            expected[l + "output.dense.bias"] = [48];
            foreach (string n in new[] { "layernorm_before", "layernorm_after" })
            {
                expected[l + n + ".weight"] = [48];
                expected[l + n + ".bias"] = [48];
            }
        }
        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), shapes.Keys.Order(StringComparer.Ordinal));
        foreach ((string name, long[] shape) in expected)
        {
            Assert.True(shape.SequenceEqual(shapes[name]), $"{name}: [{string.Join(",", shapes[name])}]");
        }
    }

    [Fact]
    public void InitializeRandom_fills_norms_biases_and_weights_as_documented()
    {
        using IJepaModel model = IJepaModel.Create(Base);
        model.InitializeRandom(seed: 7);
        foreach ((string name, var parameter) in model.named_parameters())
        {
            using Tensor values = parameter.to(ScalarType.Float64);
            if (name.Contains("layernorm", StringComparison.Ordinal))
            {
                Assert.True(values.eq(name.EndsWith(".weight", StringComparison.Ordinal) ? IJepa.Runtime.HeldScalars.One : IJepa.Runtime.HeldScalars.Zero).all().item<bool>(), name);
            }
            else if (name.EndsWith(".bias", StringComparison.Ordinal))
            {
                Assert.True(values.eq(IJepa.Runtime.HeldScalars.Zero).all().item<bool>(), name);
            }
            else
            {
                double std = values.std().item<double>(), mean = values.mean().item<double>();
                long n = values.numel();
                // normal(0, 0.02): the sample std within 5 standard errors, the mean within 5 standard errors.
                Assert.True(Math.Abs(std - 0.02) < 5 * 0.02 / Math.Sqrt(2 * n), $"{name}: std {std} over {n}");
                Assert.True(Math.Abs(mean) < 5 * 0.02 / Math.Sqrt(n), $"{name}: mean {mean} over {n}");
            }
        }
        using IJepaModel same = IJepaModel.Create(Base);
        same.InitializeRandom(seed: 7);
        using IJepaModel other = IJepaModel.Create(Base);
        other.InitializeRandom(seed: 8);
        const string Name = "encoder.layer.3.intermediate.dense.weight";
        Tensor Weight(IJepaModel m) => m.named_parameters().Single(p => p.name == Name).parameter;
        Assert.True(Identical(Weight(model), Weight(same)));
        Assert.False(Identical(Weight(model), Weight(other)));
    }

    [Fact]
    public void SavePretrained_writes_a_folder_that_transformers_and_FromPretrained_read()
    {
        using IJepaModel model = IJepaModel.Create(Base with { LayerNormEps = 1e-5 });
        model.InitializeRandom(seed: 3);
        using TempFolder folder = TestData.NewFolder();
        string target = Path.Combine(folder.Path, "nested", "model");
        model.SavePretrained(target);
        Assert.Equal(model.Config.ToJson(), File.ReadAllText(Path.Combine(target, "config.json")));
        using (JsonDocument pre = JsonDocument.Parse(File.ReadAllText(Path.Combine(target, "preprocessor_config.json"))))
        {
            JsonElement p = pre.RootElement;
            Assert.True(p.GetProperty("do_normalize").GetBoolean() && p.GetProperty("do_rescale").GetBoolean() && p.GetProperty("do_resize").GetBoolean());
            Assert.Equal([0.5, 0.5, 0.5], p.GetProperty("image_mean").EnumerateArray().Select(e => e.GetDouble()));
            Assert.Equal([0.5, 0.5, 0.5], p.GetProperty("image_std").EnumerateArray().Select(e => e.GetDouble()));
            Assert.Equal(2, p.GetProperty("resample").GetInt32());   // PIL.Image.BILINEAR
            Assert.Equal(1 / 255.0, p.GetProperty("rescale_factor").GetDouble());
            Assert.Equal(70, p.GetProperty("size").GetProperty("height").GetInt32());
            Assert.Equal(70, p.GetProperty("size").GetProperty("width").GetInt32());
            Assert.Equal("ViTImageProcessor", p.GetProperty("image_processor_type").GetString());
        }
        using (SafetensorsFile weights = SafetensorsFile.Open(Path.Combine(target, "model.safetensors")))
        {
            Assert.Equal("pt", weights.Metadata["format"]);
            Assert.Equal(model.named_parameters().Count(), weights.Tensors.Count);
        }
        using IJepaModel loaded = IJepaModel.FromPretrained(target);
        Assert.Equal(model.Config, loaded.Config);
        using Tensor pixels = randn(2, 3, 70, 70, generator: new Generator(5));
        using IJepaModelOutput a = model.Forward(pixels), b = loaded.Forward(pixels);
        Assert.True(Identical(a.LastHiddenState, b.LastHiddenState));
    }

    [Theory]
    [InlineData(new long[] { 3, 70, 70 }, "Pixel values must be [batch, channels, height, width]; got shape [3,70,70].")]
    [InlineData(new long[] { 0, 3, 70, 70 }, "The batch is empty.")]
    [InlineData(new long[] { 1, 1, 70, 70 }, "The model expects 3 channels; the input has 1.")]
    [InlineData(new long[] { 1, 4, 70, 70 }, "The model expects 3 channels; the input has 4.")]
    [InlineData(new long[] { 1, 3, 70, 84 }, "Input image size (70x84) doesn't match the model (70x70)")]
    [InlineData(new long[] { 1, 3, 84, 70 }, "Input image size (84x70) doesn't match the model (70x70)")]
    public void Forward_says_what_is_wrong_with_the_input(long[] shape, string message)
    {
        using IJepaModel model = TinyModel();
        using Tensor pixels = zeros(shape);
        var error = Assert.Throws<ArgumentException>(() => model.Forward(pixels).Dispose());
        Assert.Equal("pixels", error.ParamName);
        Assert.StartsWith(message, error.Message, StringComparison.Ordinal);
        var masked = Assert.Throws<ArgumentException>(() => model.ForwardMasked(pixels, [zeros(new long[] { shape[0], 1 }, ScalarType.Int64)]).Dispose());
        Assert.StartsWith(message, masked.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Forward_refuses_integer_pixels_and_inputs_smaller_than_a_patch()
    {
        using IJepaModel model = TinyModel();
        using Tensor bytes = zeros(new long[] { 1, 3, 70, 70 }, ScalarType.Byte);
        var error = Assert.Throws<ArgumentException>(() => model.Forward(bytes).Dispose());
        Assert.StartsWith("Pixel values must be floating point (normalized); got Byte.", error.Message, StringComparison.Ordinal);
        var interpolate = new IJepaForwardOptions { InterpolatePosEncoding = true };
        foreach ((long h, long w) in new[] { (13L, 70L), (70L, 13L) })
        {
            using Tensor small = zeros(1, 3, h, w);
            var tooSmall = Assert.Throws<ArgumentException>(() => model.Forward(small, interpolate).Dispose());
            Assert.StartsWith($"Input {h}x{w} is smaller than one 14-pixel patch.", tooSmall.Message, StringComparison.Ordinal);
        }
        using Tensor onePatch = zeros(1, 3, 14, 14);
        using IJepaModelOutput output = model.Forward(onePatch, interpolate);
        Assert.Equal([1L, 1, 48], output.LastHiddenState.shape);
    }

    [Fact]
    public void Interpolation_at_the_trained_size_changes_nothing_and_a_non_square_grid_is_resampled()
    {
        using IJepaModel model = TinyModel();
        using Tensor pixels = randn(1, 3, 70, 70, generator: new Generator(2));
        using IJepaModelOutput plain = model.Forward(pixels);
        using IJepaModelOutput interpolated = model.Forward(pixels, new IJepaForwardOptions { InterpolatePosEncoding = true });
        Assert.True(Identical(plain.LastHiddenState, interpolated.LastHiddenState));
        // 70x84: a 5x6 grid, 30 tokens; the trained 5x5 grid is resampled, not reused.
        using Tensor wide = randn(1, 3, 70, 84, generator: new Generator(2));
        using IJepaModelOutput resized = model.Forward(wide, new IJepaForwardOptions { InterpolatePosEncoding = true });
        Assert.Equal([1L, 30, 48], resized.LastHiddenState.shape);
    }

    [Fact]
    public void ForwardMasked_with_every_patch_is_the_plain_forward_in_mask_order()
    {
        // Attention is permutation-equivariant and positions are added before the gather, so encoding the
        // tokens in a permuted order gives the unmasked encoder's outputs in that order.
        using IJepaModel model = TinyModel();
        using Tensor pixels = randn(2, 3, 70, 70, generator: new Generator(4));
        using IJepaModelOutput full = model.Forward(pixels);
        long[] order = Enumerable.Range(0, 25).Select(i => (long)((i * 7) % 25)).ToArray();
        using Tensor permutation = tensor(order).unsqueeze(0).repeat(2, 1);
        using Tensor identity = tensor(Enumerable.Range(0, 25).ToArray()).unsqueeze(0).repeat(2, 1);
        using Tensor masked = model.ForwardMasked(pixels, [identity, permutation]);
        Assert.Equal([4L, 25, 48], masked.shape);
        using Tensor permuted = full.LastHiddenState.index_select(1, permutation[0]);
        Assert.True((masked[0..2] - full.LastHiddenState).abs().max().item<float>() < 1e-5);
        Assert.True((masked[2..4] - permuted).abs().max().item<float>() < 1e-5);
    }

    [Fact]
    public void Masks_must_be_batch_by_k_indices_in_range_and_of_one_length()
    {
        using IJepaModel model = TinyModel();
        using Tensor pixels = zeros(2, 3, 70, 70);
        string Fails(params Tensor[] masks) => Assert.Throws<ArgumentException>(() => model.ForwardMasked(pixels, masks).Dispose()).Message;
        Assert.StartsWith("At least one mask is needed.", Fails(), StringComparison.Ordinal);
        Assert.StartsWith("A mask must be [batch = 2, K >= 1] indices; got [2].", Fails(zeros(new long[] { 2 }, ScalarType.Int64)), StringComparison.Ordinal);
        Assert.StartsWith("A mask must be [batch = 2, K >= 1] indices; got [1,3].", Fails(zeros(new long[] { 1, 3 }, ScalarType.Int64)), StringComparison.Ordinal);
        Assert.StartsWith("A mask must be [batch = 2, K >= 1] indices; got [2,0].", Fails(zeros(new long[] { 2, 0 }, ScalarType.Int64)), StringComparison.Ordinal);
        using Scalar pastEnd = 25L.ToScalar(), negative = (-1L).ToScalar();
        Assert.StartsWith("Mask indices must lie in 0..24.", Fails(full(2, 3, pastEnd)), StringComparison.Ordinal);
        Assert.StartsWith("Mask indices must lie in 0..24.", Fails(full(2, 3, negative)), StringComparison.Ordinal);
        Assert.StartsWith("All masks must keep the same number of tokens", Fails(zeros(new long[] { 2, 3 }, ScalarType.Int64), zeros(new long[] { 2, 4 }, ScalarType.Int64)), StringComparison.Ordinal);
        using Tensor edges = tensor(new long[] { 0, 24, 24, 0 }).view(2, 2);
        using Tensor ok = model.ForwardMasked(pixels, [edges]);
        Assert.Equal([2L, 2, 48], ok.shape);
        // One token per image is a mask too.
        using Tensor single = tensor(new long[] { 7, 7 }).view(2, 1);
        using Tensor one = model.ForwardMasked(pixels, [single]);
        Assert.Equal([2L, 1, 48], one.shape);
    }

    [Fact]
    public void LastBlocksMean_concatenates_the_token_means_of_the_last_blocks_in_order()
    {
        using IJepaModel model = TinyModel();
        using Tensor pixels = randn(2, 3, 70, 70, generator: new Generator(6));
        using IJepaModelOutput output = model.Forward(pixels, new IJepaForwardOptions { OutputHiddenStates = true });
        Assert.Equal(5, output.HiddenStates!.Count);
        using (IJepaModelOutput plain = model.Forward(pixels))
        {
            var missing = Assert.Throws<InvalidOperationException>(() => plain.LastBlocksMean().Dispose());
            Assert.Equal("LastBlocksMean needs the hidden states: set IJepaForwardOptions.OutputHiddenStates.", missing.Message);
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => output.LastBlocksMean(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => output.LastBlocksMean(5));
        using Tensor one = output.LastBlocksMean(1);
        using Tensor lastMean = output.HiddenStates[4].mean([1]);
        Assert.True(Identical(one, lastMean));
        using Tensor two = output.LastBlocksMean(2);
        using Tensor expected = cat([output.HiddenStates[3].mean([1]), lastMean], 1);
        Assert.True(Identical(two, expected));
        using Tensor all = output.LastBlocksMean(4);
        Assert.Equal([2L, 4 * 48], all.shape);
        // The final LayerNorm is applied after the last hidden state, and pooling is its token mean.
        Assert.Equal([2L, 48], output.Pooled.shape);
        using Tensor pooled = output.LastHiddenState.mean([1]);
        Assert.True((output.Pooled - pooled).abs().max().item<float>() < 1e-6);
        output.Dispose();
        Assert.True(output.LastHiddenState.IsInvalid && output.Pooled.IsInvalid && output.HiddenStates.All(h => h.IsInvalid));
    }

    private static string Original(string name) => Path.Combine(AppContext.BaseDirectory, "original", name);

    [Fact]
    public void The_predictor_checks_the_context_it_is_given()
    {
        using var checkpoint = IJepa.Checkpoints.Original.OriginalCheckpoint.Open(Original("tiny-ijepa.pth.tar"));
        using IJepaPredictor predictor = checkpoint.LoadPredictor(numAttentionHeads: 4);
        Assert.Equal(ScalarType.Float32, predictor.DType);
        Assert.Equal(TorchSharp.DeviceType.CPU, predictor.Device.type);
        using Tensor mask = zeros(new long[] { 2, 3 }, ScalarType.Int64);
        void Fails(Tensor context, Tensor[] contextMasks, string shape)
        {
            var error = Assert.Throws<ArgumentException>(() => predictor.Forward(context, contextMasks, [mask]).Dispose());
            Assert.Equal("context", error.ParamName);
            Assert.StartsWith($"The context must be [masks × B, K, 32]; got [{shape}].", error.Message, StringComparison.Ordinal);
        }
        Fails(zeros(2, 3), [mask], "2,3");
        Fails(zeros(2, 3, 31), [mask], "2,3,31");
        Fails(zeros(2, 3, 32), [], "2,3,32");
        Fails(zeros(3, 3, 32), [mask, mask], "3,3,32");
        Assert.Throws<ArgumentNullException>(() => predictor.Forward(null!, [mask], [mask]));
        Assert.Throws<ArgumentNullException>(() => predictor.Forward(zeros(2, 3, 32), null!, [mask]));
        Assert.Throws<ArgumentNullException>(() => predictor.Forward(zeros(2, 3, 32), [mask], null!));
    }

    [Fact]
    public void Several_context_masks_predict_as_each_would_alone_in_the_original_order()
    {
        // The original code's order: [targets × contexts × B]; context c's prediction of target t is what the
        // predictor gives for that context and target alone.
        using var checkpoint = IJepa.Checkpoints.Original.OriginalCheckpoint.Open(Original("tiny-ijepa.pth.tar"));
        using IJepaModel encoder = checkpoint.LoadEncoder(IJepa.Checkpoints.Original.EncoderPart.Encoder, numAttentionHeads: 4);
        using IJepaPredictor predictor = checkpoint.LoadPredictor(numAttentionHeads: 4);
        using Tensor pixels = randn(2, 3, 42, 42, generator: new Generator(9));
        Tensor Indices(params long[][] rows) => tensor(rows.SelectMany(r => r).ToArray(), [rows.Length, rows[0].Length]);
        using Tensor c0 = Indices([0, 1, 2, 6, 7, 8], [3, 4, 5, 9, 10, 11]), c1 = Indices([20, 21, 22, 26, 27, 28], [12, 13, 14, 18, 19, 20]);
        using Tensor t0 = Indices([30, 31], [33, 34]), t1 = Indices([35, 24], [23, 17]), t2 = Indices([15, 16], [1, 2]);
        Tensor[] contexts = [c0, c1], targets = [t0, t1, t2];
        using Tensor encoded = encoder.ForwardMasked(pixels, contexts);
        using Tensor all = predictor.Forward(encoded, contexts, targets);
        Assert.Equal([3L * 2 * 2, 2, 32], all.shape);
        for (int t = 0; t < 3; t++)
        {
            for (int c = 0; c < 2; c++)
            {
                using Tensor alone = encoder.ForwardMasked(pixels, [contexts[c]]);
                using Tensor expected = predictor.Forward(alone, [contexts[c]], [targets[t]]);
                int row = ((t * 2) + c) * 2;
                using Tensor actual = all.narrow(0, row, 2);
                Assert.True((actual - expected).abs().max().item<float>() < 1e-5, $"target {t}, context {c}");
            }
        }
    }

    [Fact]
    public void Parameters_are_frozen()
    {
        // An inference model: no parameter asks for gradients (an optimizer handed model.parameters() gets nothing to train,
        // and tensors computed from them outside inference mode build no autograd graph).
        using IJepaModel model = TinyModel();
        Assert.All(model.named_parameters(), p => Assert.False(p.parameter.requires_grad, p.name));
        using var checkpoint = IJepa.Checkpoints.Original.OriginalCheckpoint.Open(Original("tiny-ijepa.pth.tar"));
        using IJepaPredictor predictor = checkpoint.LoadPredictor(numAttentionHeads: 4);
        Assert.All(predictor.named_parameters(), p => Assert.False(p.parameter.requires_grad, p.name));
    }

    [Theory]
    [InlineData(ScalarType.Float32, 84, 84, 1e-6)]     // a square grid of another size: 6 x 6
    [InlineData(ScalarType.Float32, 14, 350, 1e-6)]    // 1 x 25: as many tokens as the trained grid, but not square
    [InlineData(ScalarType.Float64, 84, 112, 1e-12)]   // a float64 model resamples in float64
    public void Interpolated_positions_are_the_trained_grid_resampled_bicubically(ScalarType dtype, long height, long width, double tolerance)
    {
        // transformers' interpolate_pos_encoding: the 5 x 5 grid of position embeddings resized to the input's patch grid
        // with bicubic interpolation (align_corners = False), added to the patch projections; hidden state 0 is that sum.
        using IJepaModel model = IJepaModel.FromPretrained(TestData.Reference("ijepa_tiny_p14"), dtype);
        var parameters = model.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter);
        using Tensor pixels = randn(new long[] { 2, 3, height, width }, generator: new Generator(11)).to(dtype);
        using IJepaModelOutput output = model.Forward(pixels, new IJepaForwardOptions { InterpolatePosEncoding = true, OutputHiddenStates = true });
        using Tensor patches = nn.functional.conv2d(pixels, parameters["embeddings.patch_embeddings.projection.weight"], parameters["embeddings.patch_embeddings.projection.bias"], strides: [14, 14]);
        using Tensor tokens = patches.flatten(2).transpose(1, 2);
        using Tensor grid = parameters["embeddings.position_embeddings"].reshape(1, 5, 5, 48).permute(0, 3, 1, 2);
        using Tensor resized = nn.functional.interpolate(grid, size: [height / 14, width / 14], mode: InterpolationMode.Bicubic, align_corners: false);
        using Tensor positions = resized.permute(0, 2, 3, 1).reshape(1, height / 14 * (width / 14), 48);
        using Tensor expected = tokens.add(positions, IJepa.Runtime.HeldScalars.One);
        Tensor actual = output.HiddenStates![0];
        Assert.Equal(expected.shape, actual.shape);
        double error = MaxAbs(actual - expected);
        Assert.True(error <= tolerance * MaxAbs(expected), $"max |Δ| {error}");
    }

    [Theory]
    [InlineData("gelu", false)]
    [InlineData("gelu_pytorch_tanh", true)]
    [InlineData("gelu_new", true)]
    public void A_block_is_the_pre_norm_transformer_block_with_the_configured_gelu(string act, bool tanh)
    {
        // transformers' IJepaLayer: h = x + attention(LN_before(x)); out = h + fc2(act(fc1(LN_after(h)))), with
        // "gelu" the exact erf form and "gelu_pytorch_tanh"/"gelu_new" the tanh approximation. Attention here is
        // libtorch's fused scaled_dot_product_attention, not the model's own loop.
        using TempFolder folder = TestData.CopyModel("ijepa_tiny_p14");
        string config = File.ReadAllText(folder.File("config.json")).Replace("\"hidden_act\": \"gelu\"", $"\"hidden_act\": \"{act}\"", StringComparison.Ordinal);
        File.WriteAllText(folder.File("config.json"), config);
        using IJepaModel model = IJepaModel.FromPretrained(folder.Path);
        Assert.Equal(act, model.Config.HiddenAct);
        var w = model.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter);
        using Tensor pixels = randn(2, 3, 70, 70, generator: new Generator(12));
        using IJepaModelOutput output = model.Forward(pixels, new IJepaForwardOptions { OutputHiddenStates = true });
        using var scope = NewDisposeScope();
        Tensor x = output.HiddenStates![0];
        Tensor Ln(Tensor t, string name) => nn.functional.layer_norm(t, [48], w[name + ".weight"], w[name + ".bias"], 1e-6);
        Tensor Dense(Tensor t, string name) => nn.functional.linear(t, w[name + ".weight"], w[name + ".bias"]);
        const string L = "encoder.layer.0.";
        Tensor normed = Ln(x, L + "layernorm_before");
        Tensor Heads(string p) => Dense(normed, L + "attention.attention." + p).view(2, 25, 6, 8).transpose(1, 2);
        Tensor context = nn.functional.scaled_dot_product_attention(Heads("query"), Heads("key"), Heads("value")).transpose(1, 2).reshape(2, 25, 48);
        Tensor h = x.add(Dense(context, L + "attention.output.dense"), IJepa.Runtime.HeldScalars.One);
        Tensor hidden = nn.functional.gelu(Dense(Ln(h, L + "layernorm_after"), L + "intermediate.dense"), tanh ? TorchSharp.Modules.GELU.Approximate.tanh : TorchSharp.Modules.GELU.Approximate.none);
        Tensor expected = h.add(Dense(hidden, L + "output.dense"), IJepa.Runtime.HeldScalars.One);
        double error = MaxAbs(output.HiddenStates[1] - expected);
        Assert.True(error < 1e-5, $"max |Δ| {error}");
        // The two GELUs differ by up to ~5e-4 per activation: the check above tells them apart.
        Tensor other = h.add(Dense(nn.functional.gelu(Dense(Ln(h, L + "layernorm_after"), L + "intermediate.dense"), tanh ? TorchSharp.Modules.GELU.Approximate.none : TorchSharp.Modules.GELU.Approximate.tanh), L + "output.dense"), IJepa.Runtime.HeldScalars.One);
        Assert.True(MaxAbs(output.HiddenStates[1] - other) > 10 * error);
    }

    [Fact]
    public void Null_and_empty_arguments_are_refused_by_name()
    {
        Assert.Equal("directory", Assert.Throws<ArgumentNullException>(() => IJepaModel.FromPretrained(null!)).ParamName);
        Assert.Equal("directory", Assert.Throws<ArgumentException>(() => IJepaModel.FromPretrained("")).ParamName);
        using IJepaModel model = TinyModel();
        Assert.Equal("pixelValues", Assert.Throws<ArgumentNullException>(() => model.Forward(null!)).ParamName);
        Assert.Equal("pixelValues", Assert.Throws<ArgumentNullException>(() => model.ForwardMasked(null!, [])).ParamName);
        using Tensor pixels = zeros(1, 3, 70, 70);
        Assert.Equal("masks", Assert.Throws<ArgumentNullException>(() => model.ForwardMasked(pixels, null!)).ParamName);
    }

    [Fact]
    public void Hidden_states_are_kept_only_when_asked_for()
    {
        using IJepaModel model = TinyModel();
        using Tensor pixels = randn(1, 3, 70, 70, generator: new Generator(3));
        using IJepaModelOutput plain = model.Forward(pixels);
        Assert.Null(plain.HiddenStates);
        using IJepaModelOutput kept = model.Forward(pixels, new IJepaForwardOptions { OutputHiddenStates = true });
        Assert.Equal(5, kept.HiddenStates!.Count);
    }

    [Fact]
    public void A_model_lives_on_the_device_it_is_given()
    {
        // The meta device holds shapes without memory: enough to see that the device argument is used.
        using IJepaModel model = IJepaModel.Create(Base, device: new Device(TorchSharp.DeviceType.META));
        Assert.Equal(TorchSharp.DeviceType.META, model.Device.type);
        Assert.All(model.parameters(), p => Assert.Equal(TorchSharp.DeviceType.META, p.device_type));
    }

    [Fact]
    public void A_model_whose_weights_do_not_load_is_released()
    {
        string folder = Path.Combine(Path.GetTempPath(), "ijepa-unloadable-" + Guid.NewGuid().ToString("N"));
        try
        {
            using (IJepaModel model = IJepaModel.Create(Base))
            {
                model.InitializeRandom(1);
                model.SavePretrained(folder);
            }
            string config = Path.Combine(folder, "config.json");
            File.WriteAllText(config, File.ReadAllText(config).Replace("\"intermediate_size\": 100", "\"intermediate_size\": 96", StringComparison.Ordinal));
            // This thread's count: the finalizer thread cannot move it, so a model left to the GC shows.
            long before = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;
            var error = Assert.Throws<IJepaCheckpointException>(() => IJepaModel.FromPretrained(folder));
            Assert.Contains("intermediate.dense.weight", error.Message, StringComparison.Ordinal);
            Assert.Equal(before, TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
