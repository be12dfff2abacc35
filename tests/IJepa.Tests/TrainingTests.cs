using IJepa.Benchmarks;
using IJepa.Checkpoints.Original;
using IJepa.Masking;
using IJepa.Training;
using TorchSharp;
using Xunit.Abstractions;

namespace IJepa.Tests;

/// <summary>
/// The training step against tests/reference/training/generate.py (written from the paper's algorithm in
/// PyTorch, float64): loss, gradients and all three networks after three steps with the schedules running.
/// </summary>
public class TrainingTests(ITestOutputHelper output)
{
    // Per tensor: the largest absolute difference over the reference's largest magnitude.
    private const double Tolerance = 1e-5;

    // The worst relative error seen by AssertClose in this test class's current test (tests of one class run one at a time).
    private static double s_worst;

    private static string ReferenceFile => Path.Combine(AppContext.BaseDirectory, "training", "reference.safetensors");

    /// <summary>The generator's tiny run (its CFG).</summary>
    internal static IJepaTrainingOptions ReferenceOptions => new()
    {
        Encoder = new IJepaConfig
        {
            HiddenSize = 32,
            NumHiddenLayers = 2,
            NumAttentionHeads = 2,
            IntermediateSize = 128,
            PatchSize = 4,
            ImageSize = 16,
        },
        PredictorWidth = 16,
        PredictorDepth = 1,
        BatchSize = 2,
        TotalSteps = 5,
        WarmupSteps = 2,
        StartLearningRate = 2e-3,
        LearningRate = 1e-2,
        FinalLearningRate = 1e-6,
        Epsilon = 1e-4,
        Masks = new MultiBlockMaskOptions { MinKeep = 2 },
    };

    [Fact]
    public void Three_steps_match_the_reference_loss_gradients_and_all_three_networks()
    {
        using var scope = NewDisposeScope();
        using var trainer = IJepaTrainer.Create(ReferenceOptions);
        s_worst = 0;
        // Our own sine-cosine positions agree with the generator's before its weights replace ours.
        AssertClose(Read("init.encoder.pos_embed"), Parameter(trainer, TrainingNetwork.Encoder, "pos_embed"), "pos_embed");
        AssertClose(Read("init.predictor.predictor_pos_embed"), Parameter(trainer, TrainingNetwork.Predictor, "predictor_pos_embed"), "predictor_pos_embed");
        trainer.LoadParameters(TrainingNetwork.Encoder, Group("init.encoder."));
        trainer.LoadParameters(TrainingNetwork.TargetEncoder, Group("init.encoder."));
        trainer.LoadParameters(TrainingNetwork.Predictor, Group("init.predictor."));

        Tensor images = Read("images"), context = Read("context"), targets = Read("targets");
        double[] losses = Read("loss").data<double>().ToArray();
        double[] schedule = Read("schedule").data<double>().ToArray();
        for (int t = 0; t < 3; t++)
        {
            IJepaTrainingStep step = trainer.Step(images[t], Masks(context[t], targets[t]));
            Assert.Equal(t + 1, step.Step);
            Assert.True(Math.Abs(step.Loss - losses[t]) <= Tolerance * Math.Abs(losses[t]), $"step {t + 1}: loss {step.Loss} vs reference {losses[t]}");
            Assert.Equal(schedule[(t * 3) + 0], step.LearningRate, 12);
            Assert.Equal(schedule[(t * 3) + 1], step.WeightDecay, 12);
            Assert.Equal(schedule[(t * 3) + 2], step.Momentum, 12);
            if (t is 0 or 2)
            {
                CompareGradients(trainer, TrainingNetwork.Encoder, $"grad{t + 1}.encoder.");
                CompareGradients(trainer, TrainingNetwork.Predictor, $"grad{t + 1}.predictor.");
            }
        }
        CompareParameters(trainer, TrainingNetwork.Encoder, "step3.encoder.");
        CompareParameters(trainer, TrainingNetwork.Predictor, "step3.predictor.");
        CompareParameters(trainer, TrainingNetwork.TargetEncoder, "step3.target_encoder.");
        output.WriteLine($"worst max-abs error / max-abs over all compared tensors: {s_worst:E2}");
    }

    /// <summary>
    /// Mixed precision against the same float64 reference: bfloat16 keeps 8 significant bits (relative step
    /// 2^-8 = 3.9e-3), so the bars are sized to that, not to float32's 1e-5. The parameters, their gradients and
    /// the optimizer stay float32, and the loss is not float32's (the low-precision path really ran).
    /// </summary>
    [Fact]
    public void Bfloat16_mixed_precision_follows_the_reference_within_bfloat16_rounding()
    {
        using var scope = NewDisposeScope();
        IJepaTrainingOptions options = ReferenceOptions with { Precision = ComputeDType.BFloat16 };
        using var trainer = IJepaTrainer.Create(options);
        using var exact = IJepaTrainer.Create(ReferenceOptions);
        foreach (IJepaTrainer t in new[] { trainer, exact })
        {
            t.LoadParameters(TrainingNetwork.Encoder, Group("init.encoder."));
            t.LoadParameters(TrainingNetwork.TargetEncoder, Group("init.encoder."));
            t.LoadParameters(TrainingNetwork.Predictor, Group("init.predictor."));
        }
        Tensor images = Read("images"), context = Read("context"), targets = Read("targets");
        double[] losses = Read("loss").data<double>().ToArray();
        double worstLoss = 0, worstGradient = 0, worstParameter = 0;
        for (int t = 0; t < 3; t++)
        {
            IJepaTrainingStep step = trainer.Step(images[t], Masks(context[t], targets[t]));
            IJepaTrainingStep reference = exact.Step(images[t], Masks(context[t], targets[t]));
            Assert.NotEqual(reference.Loss, step.Loss);
            worstLoss = Math.Max(worstLoss, Math.Abs(step.Loss - losses[t]) / Math.Abs(losses[t]));
            if (t is 0 or 2)
            {
                foreach (TrainingNetwork network in new[] { TrainingNetwork.Encoder, TrainingNetwork.Predictor })
                {
                    Dictionary<string, Tensor> expected = Group($"grad{t + 1}.{network.ToString().ToLowerInvariant()}.");
                    foreach ((string name, Tensor parameter) in trainer.Parameters(network))
                    {
                        Assert.Equal(ScalarType.Float32, parameter.dtype);
                        if (expected.TryGetValue(name, out Tensor? e))
                        {
                            using Tensor grad = parameter.grad!;
                            Assert.Equal(ScalarType.Float32, grad.dtype);
                            worstGradient = Math.Max(worstGradient, RelativeError(e, grad));
                        }
                    }
                }
            }
        }
        foreach ((TrainingNetwork network, string prefix) in new[] { (TrainingNetwork.Encoder, "step3.encoder."), (TrainingNetwork.Predictor, "step3.predictor."), (TrainingNetwork.TargetEncoder, "step3.target_encoder.") })
        {
            Dictionary<string, Tensor> expected = Group(prefix);
            foreach ((string name, Tensor parameter) in trainer.Parameters(network))
            {
                worstParameter = Math.Max(worstParameter, RelativeError(expected[name], parameter));
            }
        }
        output.WriteLine($"bfloat16 against the float64 reference, worst relative error: loss {worstLoss:E2}, gradients {worstGradient:E2}, parameters after 3 steps {worstParameter:E2}");
        // Measured: loss 9.7e-4, gradients 2.4e-2 (norm weights and qkv of the deepest blocks: the roundings of every
        // product above them add up), parameters 2.0e-2 (biases that start at 0, where Adam's first updates are
        // lr · g / (|g| + ε) and a few percent of noise in a small g moves them). A float32 run is at 1.6e-6; a
        // gradient that did not flow back through the casts would be off by 100 %.
        Assert.True(worstLoss < 1e-2, $"loss {worstLoss:E2}");
        Assert.True(worstGradient < 5e-2, $"gradients {worstGradient:E2}");
        Assert.True(worstParameter < 5e-2, $"parameters {worstParameter:E2}");
    }

    [Fact]
    public void Float16_training_is_refused_with_the_reason()
    {
        string problem = Assert.Single((ReferenceOptions with { Precision = ComputeDType.Float16 }).Validate());
        Assert.Contains("float16 needs loss scaling", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void A_resumed_run_continues_exactly_as_an_uninterrupted_one()
    {
        using var folder = TestData.NewFolder();
        IJepaTrainingOptions options = TinyOptions(totalSteps: 6);
        using Tensor data = Images(options, 8, seed: 3);
        string path = Path.Combine(folder.Path, "checkpoint.pth.tar");

        List<double> straight;
        Dictionary<string, Tensor> straightWeights;
        using (var trainer = IJepaTrainer.Create(options))
        {
            straight = Run(trainer, options, data, 6);
            straightWeights = Snapshot(trainer);
        }
        List<double> resumed;
        using (var first = IJepaTrainer.Create(options))
        {
            resumed = Run(first, options, data, 3);
            first.SaveCheckpoint(path, epoch: 0);
        }
        using (var second = IJepaTrainer.Resume(path, options))
        {
            Assert.Equal(3, second.StepCount);
            resumed.AddRange(Run(second, options, data, 3));
            Dictionary<string, Tensor> weights = Snapshot(second);
            foreach ((string name, Tensor expected) in straightWeights)
            {
                Assert.True(expected.equal(weights[name]).all().item<bool>(), $"{name} differs after resuming");
            }
        }
        Assert.Equal(straight, resumed);
    }

    [Fact]
    public void The_checkpoint_is_the_original_format_that_the_inference_loader_reads()
    {
        using var folder = TestData.NewFolder();
        IJepaTrainingOptions options = TinyOptions(totalSteps: 4);
        using Tensor data = Images(options, 4, seed: 5);
        using var trainer = IJepaTrainer.Create(options);
        Run(trainer, options, data, 2);
        string path = Path.Combine(folder.Path, "ijepa.pth.tar");
        trainer.SaveCheckpoint(path, epoch: 1);

        using var checkpoint = OriginalCheckpoint.Open(path);
        Assert.Equal(["encoder", "predictor", "target_encoder"], checkpoint.Parts);
        Assert.Equal("1", checkpoint.Info["epoch"]);
        Assert.Equal("4", checkpoint.Info["batch_size"]);
        Assert.Equal("1", checkpoint.Info["world_size"]);
        using IJepaModel loaded = checkpoint.LoadEncoder(EncoderPart.TargetEncoder, numAttentionHeads: options.Encoder.NumAttentionHeads);
        using IJepaPredictor predictor = checkpoint.LoadPredictor(numAttentionHeads: options.Encoder.NumAttentionHeads);

        // The exported Hugging Face folder encodes as the trainer's target encoder does.
        string exported = Path.Combine(folder.Path, "hf");
        trainer.ExportTargetEncoder(exported);
        using IJepaModel model = IJepaModel.FromPretrained(exported);
        using Tensor pixels = randn(2, 3, 24, 24);
        using IJepaModelOutput output = model.Forward(pixels);
        using IJepaModelOutput fromCheckpoint = loaded.Forward(pixels);
        Tensor expected;
        using (no_grad())
        {
            expected = trainer.Target.Forward(pixels, null);
        }
        using (expected)
        {
            AssertClose(expected, output.LastHiddenState, "exported encoder");
            AssertClose(expected, fromCheckpoint.LastHiddenState, "checkpoint encoder");
        }
        Assert.True(File.Exists(Path.Combine(exported, "preprocessor_config.json")));
    }

    [Fact]
    public void Schedules_follow_the_paper()
    {
        IJepaTrainingOptions options = TinyOptions(totalSteps: 100) with { WarmupSteps = 10, StartLearningRate = 2e-4, LearningRate = 1e-3, FinalLearningRate = 1e-6 };
        Assert.Equal(2e-4 + (0.1 * 8e-4), TrainingSchedules.LearningRate(options, 1), 15);
        Assert.Equal(1e-3, TrainingSchedules.LearningRate(options, 10), 15);
        Assert.Equal(1e-6, TrainingSchedules.LearningRate(options, 100), 15);
        Assert.Equal(0.04, TrainingSchedules.WeightDecay(options, 0), 15);
        Assert.Equal(0.22, TrainingSchedules.WeightDecay(options, 50), 12);
        Assert.Equal(0.4, TrainingSchedules.WeightDecay(options, 100), 15);
        Assert.Equal(0.996, TrainingSchedules.Momentum(options, 0), 15);
        Assert.Equal(1.0, TrainingSchedules.Momentum(options, 100), 15);
    }

    [Fact]
    public void Masks_and_data_order_are_functions_of_the_seed_and_step()
    {
        IJepaTrainingOptions options = TinyOptions(totalSteps: 4);
        using var a = IJepaTrainer.Create(options);
        using var b = IJepaTrainer.Create(options);
        IReadOnlyList<MaskSet> first = a.SampleMasks(4, 7), second = b.SampleMasks(4, 7);
        Assert.Equal(first.Select(m => m.Context), second.Select(m => m.Context));
        Assert.Equal(first.SelectMany(m => m.Targets), second.SelectMany(m => m.Targets));
        Assert.Equal(TrainingImages.EpochOrder(100, 1, 2), TrainingImages.EpochOrder(100, 1, 2));
        Assert.NotEqual(TrainingImages.EpochOrder(100, 1, 2), TrainingImages.EpochOrder(100, 1, 3));
        // The context never overlaps the targets (the paper's setting).
        foreach (MaskSet set in first)
        {
            Assert.Empty(set.Context.Intersect(set.Targets.SelectMany(t => t)));
        }
    }

    internal static IJepaTrainingOptions TinyOptions(long totalSteps) => new()
    {
        Encoder = new IJepaConfig
        {
            HiddenSize = 32,
            NumHiddenLayers = 2,
            NumAttentionHeads = 2,
            IntermediateSize = 64,
            PatchSize = 4,
            ImageSize = 24,
        },
        PredictorWidth = 16,
        PredictorDepth = 1,
        BatchSize = 4,
        TotalSteps = totalSteps,
        WarmupSteps = 1,
        Masks = new MultiBlockMaskOptions { MinKeep = 2 },
        Seed = 11,
    };

    /// <summary>Fixed 0–1 images [count, 3, 30, 30] (larger than the model, so the crops resize).</summary>
    internal static Tensor Images(IJepaTrainingOptions options, int count, int seed)
    {
        using var generator = new Generator((ulong)seed);
        return rand([count, options.Encoder.NumChannels, 30, 30], generator: generator);
    }

    /// <summary>Steps as the sample does them: seeded epoch order, crops per step, masks per step.</summary>
    internal static List<double> Run(IJepaTrainer trainer, IJepaTrainingOptions options, Tensor data, int steps)
    {
        var losses = new List<double>();
        int count = (int)data.shape[0], perEpoch = count / options.BatchSize;
        for (int i = 0; i < steps; i++)
        {
            using var scope = NewDisposeScope();
            long step = trainer.StepCount;
            int[] order = TrainingImages.EpochOrder(count, options.Seed, (int)(step / perEpoch));
            int offset = (int)(step % perEpoch) * options.BatchSize;
            var images = Enumerable.Range(offset, options.BatchSize).Select(j => data[order[j]]).ToList();
            Tensor batch = TrainingImages.Batch(images, options, step);
            losses.Add(trainer.Step(batch).Loss);
        }
        return losses;
    }

    private static Dictionary<string, Tensor> Snapshot(IJepaTrainer trainer) =>
        Enum.GetValues<TrainingNetwork>().SelectMany(n => trainer.Parameters(n).Select(p => ($"{n}.{p.Name}", p.Value.detach().clone())))
            .ToDictionary(p => p.Item1, p => p.Item2);

    private static Tensor Read(string name) => TestData.ReadTensor(ReferenceFile, name);

    private static Dictionary<string, Tensor> Group(string prefix)
    {
        using SafetensorsFile file = SafetensorsFile.Open(ReferenceFile);
        return file.Tensors.Keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal)).ToDictionary(k => k[prefix.Length..], Read);
    }

    private static Tensor Parameter(IJepaTrainer trainer, TrainingNetwork network, string name) =>
        trainer.Parameters(network).Single(p => p.Name == name).Value;

    private static List<MaskSet> Masks(Tensor context, Tensor targets)
    {
        // context [B, Kc], targets [4, B, Kt] → one MaskSet per image.
        var sets = new List<MaskSet>();
        for (int b = 0; b < context.shape[0]; b++)
        {
            // Stored as float64 (exact for indices), which the safetensors reader supports.
            int[] c = context[b].data<double>().Select(v => (int)v).ToArray();
            var t = Enumerable.Range(0, (int)targets.shape[0]).Select(k => (IReadOnlyList<int>)targets[k][b].data<double>().Select(v => (int)v).ToArray()).ToArray();
            sets.Add(new MaskSet(c, t));
        }
        return sets;
    }

    private static void CompareGradients(IJepaTrainer trainer, TrainingNetwork network, string prefix)
    {
        Dictionary<string, Tensor> expected = Group(prefix);
        int compared = 0;
        foreach ((string name, Tensor parameter) in trainer.Parameters(network))
        {
            using Tensor? grad = parameter.grad;
            if (!expected.TryGetValue(name, out Tensor? reference))
            {
                Assert.True(grad is null, $"{prefix}{name} has a gradient, the reference none");
                continue;
            }
            Assert.NotNull(grad);
            AssertClose(reference, grad!, prefix + name);
            compared++;
        }
        Assert.Equal(expected.Count, compared);
    }

    private static void CompareParameters(IJepaTrainer trainer, TrainingNetwork network, string prefix)
    {
        Dictionary<string, Tensor> expected = Group(prefix);
        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), trainer.Parameters(network).Select(p => p.Name).Order(StringComparer.Ordinal));
        foreach ((string name, Tensor parameter) in trainer.Parameters(network))
        {
            AssertClose(expected[name], parameter, prefix + name);
        }
    }

    // The largest absolute difference over the reference's largest magnitude.
    private static double RelativeError(Tensor expected, Tensor actual)
    {
        using var scope = NewDisposeScope();
        Tensor e = expected.to(ScalarType.Float64), a = actual.detach().to(ScalarType.Float64);
        return (a - e).abs().max().item<double>() / Math.Max(e.abs().max().item<double>(), 1e-30);
    }

    private static void AssertClose(Tensor expected, Tensor actual, string what)
    {
        using var scope = NewDisposeScope();
        Assert.Equal(expected.shape, actual.shape);
        Tensor e = expected.to(ScalarType.Float64), a = actual.detach().to(ScalarType.Float64);
        double scale = e.abs().max().item<double>();
        double error = (a - e).abs().max().item<double>();
        s_worst = Math.Max(s_worst, error / Math.Max(scale, 1e-30));
        Assert.True(error <= Tolerance * Math.Max(scale, 1e-30), $"{what}: max error {error:E3} against scale {scale:E3} ({error / scale:E2} relative)");
    }
}

/// <summary>Native memory of training steps, measured alone in the process.</summary>
[Collection(nameof(ProcessWide))]
public class TrainingMemoryTests
{
    [Fact]
    public void A_thousand_training_steps_leave_no_live_tensors_and_native_memory_flat()
    {
        // One libtorch thread: the tiny model gains nothing from two, and on a busy machine OpenMP's spinning
        // second thread made these 1,020 steps take minutes (README, Training: speed).
        int threads = get_num_threads();
        set_num_threads(1);
        try
        {
            RunThousandSteps();
        }
        finally
        {
            set_num_threads(threads);
        }
    }

    private static void RunThousandSteps()
    {
        IJepaTrainingOptions options = TrainingTests.TinyOptions(totalSteps: 1_100);
        using Tensor data = TrainingTests.Images(options, 16, seed: 9);
        using var trainer = IJepaTrainer.Create(options);
        TrainingTests.Run(trainer, options, data, 20);
        // Resident memory settled each time (compacting collections, malloc's free memory returned), so that what the
        // collector or malloc happens to hold at the moment of reading does not count as growth.
        GC.Collect();
        long baseline = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        long rssBefore = IJepa.Fuzz.Settle.Resident();
        TrainingTests.Run(trainer, options, data, 500);
        long rssMiddle = IJepa.Fuzz.Settle.Resident();
        TrainingTests.Run(trainer, options, data, 500);
        long rssAfter = IJepa.Fuzz.Settle.Resident();
        Assert.Equal(baseline, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        // A leak of one step's activations (~1 MB here) would add 500 MB over the second 500 steps.
        Assert.True(rssAfter - rssMiddle < 16L * 1024 * 1024, $"resident memory grew {(rssAfter - rssMiddle) / 1e6:F1} MB over the last 500 steps (first 500: {(rssMiddle - rssBefore) / 1e6:F1} MB)");
    }
}
