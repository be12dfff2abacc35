using IJepa.Masking;
using IJepa.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace IJepa.Training;

/// <summary>The three networks of an I-JEPA run.</summary>
public enum TrainingNetwork
{
    /// <summary>The context encoder, trained by gradient.</summary>
    Encoder,

    /// <summary>The predictor, trained by gradient.</summary>
    Predictor,

    /// <summary>The target encoder, an exponential moving average of the context encoder (the model one keeps).</summary>
    TargetEncoder,
}

/// <summary>What one optimizer step did.</summary>
/// <param name="Step">The step number, from 1.</param>
/// <param name="Loss">The smooth-L1 loss of the batch (before the update).</param>
/// <param name="LearningRate">The learning rate the update used.</param>
/// <param name="WeightDecay">The weight decay the update used (on weights; biases and 1-D parameters get none).</param>
/// <param name="Momentum">The EMA momentum the target encoder was updated with.</param>
public sealed record IJepaTrainingStep(long Step, double Loss, double LearningRate, double WeightDecay, double Momentum);

/// <summary>
/// I-JEPA pretraining (Assran et al. 2023). One <see cref="Step"/>: the target encoder encodes the whole
/// image without gradient and its output is layer-normed (no affine) and gathered at the target blocks; the
/// context encoder encodes only the context block; the predictor, given the context tokens and the target
/// positions, predicts the targets; the smooth-L1 loss is back-propagated and AdamW updates encoder and
/// predictor; finally the target encoder moves towards the encoder by EMA. Masks are sampled per batch with
/// <see cref="MultiBlockMaskSampler"/> unless given, and the caller chooses the images and their order, so a
/// run can be replayed exactly (fixed masks and data are how the reference test and debugging work).
/// </summary>
public sealed class IJepaTrainer : IDisposable
{
    private readonly TrainingEncoder _encoder;
    private readonly TrainingPredictor _predictor;
    private readonly TrainingEncoder _target;
    private readonly AdamW _optimizer;
    private readonly MultiBlockMaskSampler _sampler;
    private readonly List<(Parameter Online, Parameter Target)> _emaPairs;

    private IJepaTrainer(IJepaTrainingOptions options, Device device)
    {
        IReadOnlyList<string> problems = options.Validate();
        if (problems.Count > 0)
        {
            throw new ArgumentException("Invalid training options: " + string.Join("; ", problems), nameof(options));
        }
        IJepaRuntime.EnsureInitialized();
        Options = options;
        Device = device;
        ScalarType? matmulType = options.Precision == ComputeDType.BFloat16 ? ScalarType.BFloat16 : null;
        _encoder = new TrainingEncoder(options.Encoder, matmulType);
        _predictor = new TrainingPredictor(options.Encoder, options.PredictorWidth, options.PredictorDepth, matmulType);
        _target = new TrainingEncoder(options.Encoder, matmulType);
        _encoder.to(device);
        _predictor.to(device);
        _target.to(device);
        foreach (Parameter p in _target.parameters())
        {
            p.requires_grad = false;
        }
        _emaPairs = [.. _encoder.named_parameters().Zip(_target.named_parameters(), (a, b) => (a.parameter, b.parameter))];
        _sampler = new MultiBlockMaskSampler(options.Encoder.GridSize, options.Encoder.GridSize, options.Masks);
        // The paper's four groups, in its order: encoder weights, predictor weights (decayed), then encoder and
        // predictor biases and 1-D parameters (never decayed). The checkpoint's optimizer state numbers
        // parameters through the groups in this order.
        var groups = new List<AdamW.ParameterGroup>
        {
            Group("encoder", _encoder, decayed: true),
            Group("predictor", _predictor, decayed: true),
            Group("encoder", _encoder, decayed: false),
            Group("predictor", _predictor, decayed: false),
        };
        _optimizer = new AdamW(groups, options.Beta1, options.Beta2, options.Epsilon);

        static AdamW.ParameterGroup Group(string network, nn.Module module, bool decayed) => new(
            [.. module.named_parameters()
                .Where(p => decayed == (!p.name.EndsWith("bias", StringComparison.Ordinal) && p.parameter.dim() != 1))
                .Select(p => new AdamW.Slot(network, p.name, p.parameter))],
            excludeFromDecay: !decayed);
    }

    /// <summary>The run's settings.</summary>
    public IJepaTrainingOptions Options { get; }

    /// <summary>Where the networks live.</summary>
    public Device Device { get; }

    /// <summary>Optimizer steps done so far (the schedules' position).</summary>
    public long StepCount { get; private set; }

    /// <summary>The mean loss of the steps since the last <see cref="SaveCheckpoint"/> (saved as the checkpoint's <c>loss</c>).</summary>
    private double _lossSum;
    private long _lossCount;
    private double _lastSavedLoss;

    /// <summary>
    /// A new run with weights initialised as the paper's code does: projections and the mask token from a
    /// normal of std 0.02 (truncated at ±2, which at that std never bites), biases 0, norms 1 and 0, each
    /// block's output projections scaled by 1/√(2·(layer+1)); fixed sine-cosine positions; the target
    /// encoder a copy of the encoder. Everything follows from <see cref="IJepaTrainingOptions.Seed"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The options are invalid (all problems listed).</exception>
    public static IJepaTrainer Create(IJepaTrainingOptions options, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var trainer = new IJepaTrainer(options, device ?? CPU);
        try
        {
            trainer.Initialize();
            return trainer;
        }
        catch
        {
            trainer.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Continues a run from a checkpoint written by <see cref="SaveCheckpoint"/>: the three networks, the
    /// optimizer's moments and step counts, and the step count (the schedules continue where they were).
    /// <paramref name="options"/> must be the run's own; the next masks and crops then follow exactly as
    /// in an uninterrupted run.
    /// </summary>
    /// <exception cref="Checkpoints.IJepaCheckpointException">The file is not such a checkpoint or its tensors do not fit the options.</exception>
    public static IJepaTrainer Resume(string checkpointPath, IJepaTrainingOptions options, Device? device = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(checkpointPath);
        ArgumentNullException.ThrowIfNull(options);
        var trainer = new IJepaTrainer(options, device ?? CPU);
        try
        {
            TrainingCheckpoint.Load(checkpointPath, trainer);
            return trainer;
        }
        catch
        {
            trainer.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The masks the trainer uses at a step when none are given: drawn by <see cref="MultiBlockMaskSampler"/>
    /// from a generator seeded by the run's seed and the step, so that a resumed run draws the same ones.
    /// </summary>
    public IReadOnlyList<MaskSet> SampleMasks(int batch, long step) => _sampler.SampleBatch(batch, StepRandom(Options.Seed, step, stream: 1));

    /// <summary>
    /// One training step on <paramref name="images"/> ([B, C, H, W], normalized and augmented; see
    /// <see cref="TrainingImages"/>) with the given per-image masks, or masks from <see cref="SampleMasks"/>.
    /// Afterwards the encoder's and predictor's gradients of this step stay readable on their parameters
    /// (<see cref="Parameters"/>) until the next step.
    /// </summary>
    /// <exception cref="ArgumentException">The images do not fit the encoder, or the masks are not one per image with equal lengths.</exception>
    public IJepaTrainingStep Step(Tensor images, IReadOnlyList<MaskSet>? masks = null)
    {
        ArgumentNullException.ThrowIfNull(images);
        var config = Options.Encoder;
        if (images.dim() != 4 || images.shape[1] != config.NumChannels || images.shape[2] != config.ImageSize || images.shape[3] != config.ImageSize)
        {
            throw new ArgumentException($"Images must be [B, {config.NumChannels}, {config.ImageSize}, {config.ImageSize}]; got [{string.Join(",", images.shape)}].", nameof(images));
        }
        int batch = (int)images.shape[0];
        masks ??= SampleMasks(batch, StepCount);
        long step = StepCount + 1;
        double learningRate = TrainingSchedules.LearningRate(Options, step);
        double weightDecay = TrainingSchedules.WeightDecay(Options, step);
        double momentum = TrainingSchedules.Momentum(Options, StepCount);

        double lossValue;
        using (var scope = NewDisposeScope())
        {
            (List<Tensor> contextMasks, List<Tensor> targetMasks) = MaskTensors(masks, batch);
            Tensor x = images.to(ScalarType.Float32, Device);
            Tensor targets;
            using (no_grad())
            {
                Tensor h = _target.Forward(x, null);
                // The targets: the target encoder's output normalized over the features (no affine), at the target blocks.
                h = nn.functional.layer_norm(h, [h.shape[2]]);
                targets = Masks.RepeatInterleaveBatch(Masks.Gather(h, targetMasks), batch, contextMasks.Count);
            }
            _optimizer.ZeroGrad();
            Tensor context = _encoder.Forward(x, contextMasks);
            Tensor predictions = _predictor.Forward(context, contextMasks, targetMasks);
            Tensor loss = nn.functional.smooth_l1_loss(predictions, targets);
            loss.backward();
            lossValue = loss.item<float>();
            if (!double.IsFinite(lossValue))
            {
                throw new InvalidOperationException($"The loss is {lossValue} at step {step}; lower the learning rate.");
            }
            _optimizer.Step(learningRate, weightDecay);
            using (no_grad())
            {
                using Scalar keep = momentum.ToScalar(), take = (1.0 - momentum).ToScalar();
                foreach ((Parameter online, Parameter target) in _emaPairs)
                {
                    target.mul_(keep).add_(online, take);
                }
            }
        }
        StepCount = step;
        _lossSum += lossValue;
        _lossCount++;
        return new IJepaTrainingStep(step, lossValue, learningRate, weightDecay, momentum);
    }

    /// <summary>
    /// The parameters of one network by their checkpoint names (without <c>module.</c>), in checkpoint order.
    /// These are the live parameters: read them (and their <c>grad</c>), do not dispose them.
    /// </summary>
    public IReadOnlyList<(string Name, Tensor Value)> Parameters(TrainingNetwork network) =>
        [.. Module(network).named_parameters().Select(p => (p.name, (Tensor)p.parameter))];

    /// <summary>
    /// Replaces the values of one network's parameters (every name exactly once, shapes equal): fixed initial
    /// weights for debugging or a reference comparison. Loading the encoder does not touch the target encoder.
    /// </summary>
    /// <exception cref="ArgumentException">A name is missing or unexpected, or a shape differs (all listed).</exception>
    public void LoadParameters(TrainingNetwork network, IReadOnlyDictionary<string, Tensor> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        var parameters = Module(network).named_parameters().ToList();
        var problems = new List<string>();
        foreach ((string name, Parameter parameter) in parameters)
        {
            if (!values.TryGetValue(name, out Tensor? value))
            {
                problems.Add($"missing '{name}'");
            }
            else if (!value.shape.SequenceEqual(parameter.shape))
            {
                problems.Add($"'{name}' is [{string.Join(",", value.shape)}], the network needs [{string.Join(",", parameter.shape)}]");
            }
        }
        problems.AddRange(values.Keys.Except(parameters.Select(p => p.name)).Select(k => $"unexpected '{k}'"));
        if (problems.Count > 0)
        {
            throw new ArgumentException($"Cannot load the {network}: " + string.Join("; ", problems), nameof(values));
        }
        using var noGrad = no_grad();
        foreach ((string name, Parameter parameter) in parameters)
        {
            parameter.copy_(values[name]);
        }
    }

    /// <summary>
    /// Writes a checkpoint in the original training code's format (see <see cref="TrainingCheckpoint"/>):
    /// a torch.save archive that torch.load reads, that OriginalCheckpoint loads, and that <see cref="Resume"/> continues.
    /// </summary>
    /// <param name="path">The file (written through a temporary file and renamed).</param>
    /// <param name="epoch">The completed epochs, saved as <c>epoch</c>.</param>
    public void SaveCheckpoint(string path, int epoch)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        // A second save with no step in between (Ctrl+C right after an epoch's save) repeats the last mean.
        double loss = _lossCount == 0 ? _lastSavedLoss : _lossSum / _lossCount;
        TrainingCheckpoint.Save(path, this, epoch, loss);
        _lastSavedLoss = loss;
        _lossSum = 0;
        _lossCount = 0;
    }

    /// <summary>
    /// Exports the target encoder (the network the paper evaluates) as a Hugging Face folder: config.json,
    /// model.safetensors and preprocessor_config.json, which IJepaEncoder.Load and transformers read.
    /// The preprocessing written is the Hugging Face conversions' (bilinear resize, mean = std = 0.5), which is
    /// the training normalization unless <see cref="IJepaTrainingOptions.ImageMean"/> or ImageStd were changed.
    /// </summary>
    public void ExportTargetEncoder(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        // Through the original format and its tested converter: the fused qkv split and the renaming are done once, there.
        string temporary = Path.Combine(Path.GetTempPath(), $"ijepa-export-{Guid.NewGuid():N}.pth.tar");
        try
        {
            TorchSaveWriter.Save(temporary, new Dictionary<object, object?>
            {
                ["target_encoder"] = TrainingCheckpoint.StateDict(_target),
            });
            using var checkpoint = Checkpoints.Original.OriginalCheckpoint.Open(temporary);
            checkpoint.SaveAsHuggingFace(directory, Checkpoints.Original.EncoderPart.TargetEncoder, Options.Encoder.NumAttentionHeads);
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    /// <summary>Releases the networks and the optimizer state.</summary>
    public void Dispose()
    {
        _optimizer.Dispose();
        _encoder.Dispose();
        _predictor.Dispose();
        _target.Dispose();
    }

    internal TrainingEncoder Encoder => _encoder;

    internal TrainingPredictor Predictor => _predictor;

    internal TrainingEncoder Target => _target;

    internal AdamW Optimizer => _optimizer;

    internal void Restore(long stepCount) => StepCount = stepCount;

    internal nn.Module Module(TrainingNetwork network) => network switch
    {
        TrainingNetwork.Encoder => _encoder,
        TrainingNetwork.Predictor => _predictor,
        TrainingNetwork.TargetEncoder => _target,
        _ => throw new ArgumentOutOfRangeException(nameof(network)),
    };

    /// <summary>A generator for one purpose (stream) at one step of a run: independent of what ran before it.</summary>
    internal static Random StepRandom(int seed, long step, int stream)
    {
        // SplitMix64 of (seed, step, stream): well-mixed seeds for nearby steps.
        ulong z = unchecked(((ulong)(uint)seed * 0x9E3779B97F4A7C15UL) ^ ((ulong)step * 0xBF58476D1CE4E5B9UL) ^ ((ulong)stream * 0x94D049BB133111EBUL));
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        z ^= z >> 31;
        return new Random((int)(z & 0x7FFFFFFF));
    }

    private void Initialize()
    {
        using var noGrad = no_grad();
        using var generator = new Generator((ulong)Options.Seed, CPU);
        InitializeNetwork(_encoder, "blocks", generator);
        InitializeNetwork(_predictor, "predictor_blocks", generator);
        foreach ((Parameter online, Parameter target) in _emaPairs)
        {
            target.copy_(online);
        }
    }

    private static void InitializeNetwork(nn.Module network, string blocks, Generator generator)
    {
        // Truncated at ±2 (timm's trunc_normal_ bounds), held across the loop (HeldScalars says why).
        using Scalar low = (-2.0).ToScalar(), high = 2.0.ToScalar(), std = 0.02.ToScalar();
        foreach ((string name, Parameter parameter) in network.named_parameters())
        {
            if (name.EndsWith("pos_embed", StringComparison.Ordinal))
            {
                continue;
            }
            if (name.Contains("norm", StringComparison.Ordinal))
            {
                parameter.fill_(name.EndsWith(".weight", StringComparison.Ordinal) ? HeldScalars.One : HeldScalars.Zero);
                continue;
            }
            if (name.EndsWith(".bias", StringComparison.Ordinal))
            {
                parameter.fill_(HeldScalars.Zero); // zero_() would return a second wrapper to dispose
                continue;
            }
            using Tensor values = HeldScalars.Normal(std, parameter.shape, generator);
            using Tensor truncated = values.clamp(low, high);
            parameter.copy_(truncated);
            string[] parts = name.Split('.');
            // Deeper blocks start with smaller residual branches, as in the paper's code.
            if (parts.Length == 5 && parts[0] == blocks && ((parts[2] == "attn" && parts[3] == "proj") || (parts[2] == "mlp" && parts[3] == "fc2")))
            {
                using Scalar depth = Math.Sqrt(2.0 * (int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture) + 1)).ToScalar();
                parameter.div_(depth);
            }
        }
    }

    private (List<Tensor> Context, List<Tensor> Targets) MaskTensors(IReadOnlyList<MaskSet> masks, int batch)
    {
        if (masks.Count != batch)
        {
            throw new ArgumentException($"Need one mask set per image ({batch}); got {masks.Count}.", nameof(masks));
        }
        int targetCount = masks[0].Targets.Count;
        int contextLength = masks[0].Context.Count;
        int targetLength = targetCount == 0 ? 0 : masks[0].Targets[0].Count;
        long tokens = Options.Encoder.NumPatches;
        foreach (MaskSet set in masks)
        {
            if (set.Context.Count != contextLength || contextLength == 0 || set.Targets.Count != targetCount || targetCount == 0
                || set.Targets.Any(t => t.Count != targetLength) || targetLength == 0)
            {
                throw new ArgumentException("Every image needs a context and the same number of target blocks, all of the batch's common lengths.", nameof(masks));
            }
            if (set.Context.Concat(set.Targets.SelectMany(t => t)).Any(i => i < 0 || i >= tokens))
            {
                throw new ArgumentException($"Mask indices must lie in 0..{tokens - 1}.", nameof(masks));
            }
        }
        var context = new List<Tensor> { Indices(masks.Select(m => m.Context).ToList(), contextLength) };
        var targets = new List<Tensor>(targetCount);
        for (int t = 0; t < targetCount; t++)
        {
            targets.Add(Indices(masks.Select(m => m.Targets[t]).ToList(), targetLength));
        }
        return (context, targets);

        Tensor Indices(List<IReadOnlyList<int>> rows, int length)
        {
            long[] values = new long[rows.Count * length];
            for (int r = 0; r < rows.Count; r++)
            {
                for (int i = 0; i < length; i++)
                {
                    values[(r * length) + i] = rows[r][i];
                }
            }
            return tensor(values, [rows.Count, length], ScalarType.Int64).to(Device);
        }
    }
}
