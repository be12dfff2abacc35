using IJepa.Checkpoints;
using IJepa.Checkpoints.Original;
using IJepa.Model;
using IJepa.Preprocessing;
using static TorchSharp.torch;

namespace IJepa.Masking;

/// <summary>
/// The whole I-JEPA objective on one image, from an original training checkpoint: the context encoder
/// sees the context block, the predictor predicts the hidden target blocks, and the target encoder's
/// layer-normed output at those patches is what the prediction is compared with.
/// </summary>
public sealed class IJepaPredictionPipeline : IDisposable
{
    private readonly IJepaModel _context;
    private readonly IJepaModel _target;
    private readonly IJepaPredictor _predictor;
    private readonly object _lock = new();

    private IJepaPredictionPipeline(IJepaModel context, IJepaModel target, IJepaPredictor predictor, ImagePreprocessor preprocessor, MultiBlockMaskSampler sampler)
    {
        _context = context;
        _target = target;
        _predictor = predictor;
        Preprocessor = preprocessor;
        Sampler = sampler;
    }

    /// <summary>The preprocessing (by default the paper's evaluation transform at the model's size).</summary>
    public ImagePreprocessor Preprocessor { get; }

    /// <summary>The mask sampler used when no masks are given.</summary>
    public MultiBlockMaskSampler Sampler { get; }

    /// <summary>Loads encoder, target_encoder and predictor from an original checkpoint.</summary>
    /// <exception cref="IJepaCheckpointException">The file lacks a part, or its tensors do not fit.</exception>
    public static IJepaPredictionPipeline Load(string checkpointPath, int? numAttentionHeads = null, PreprocessingOptions? preprocessing = null, MultiBlockMaskOptions? masks = null)
    {
        using OriginalCheckpoint checkpoint = OriginalCheckpoint.Open(checkpointPath);
        IJepaModel? context = null, target = null;
        try
        {
            context = checkpoint.LoadEncoder(EncoderPart.Encoder, numAttentionHeads: numAttentionHeads);
            target = checkpoint.LoadEncoder(EncoderPart.TargetEncoder, numAttentionHeads: numAttentionHeads);
            IJepaPredictor predictor = checkpoint.LoadPredictor(numAttentionHeads: numAttentionHeads);
            var preprocessor = new ImagePreprocessor(preprocessing ?? PreprocessingOptions.Paper(context.Config.ImageSize));
            var sampler = new MultiBlockMaskSampler(context.Config.GridSize, context.Config.GridSize, masks);
            return new IJepaPredictionPipeline(context, target, predictor, preprocessor, sampler);
        }
        catch
        {
            context?.Dispose();
            target?.Dispose();
            throw;
        }
    }

    /// <summary>Predicts the hidden blocks of an image, with the given masks or masks sampled from <paramref name="seed"/>.</summary>
    /// <exception cref="ImageDecodeException">The image is unusable.</exception>
    public JepaPrediction Predict(ImageInput image, MaskSet? masks = null, int seed = 0)
    {
        ArgumentNullException.ThrowIfNull(image);
        float[] pixels = Preprocessor.Preprocess(image);
        using Tensor batch = tensor(pixels, [1, 3, Preprocessor.Options.Height, Preprocessor.Options.Width]);
        return Predict(batch, masks ?? Sampler.Sample(new Random(seed)));
    }

    /// <summary>Predicts the hidden blocks of one normalized image [1, 3, S, S].</summary>
    /// <exception cref="ArgumentException">Not one image, or masks outside the patch grid.</exception>
    public JepaPrediction Predict(Tensor pixels, MaskSet masks)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        ArgumentNullException.ThrowIfNull(masks);
        if (pixels.dim() != 4 || pixels.shape[0] != 1)
        {
            throw new ArgumentException($"Predict takes one image [1, 3, H, W]; got [{string.Join(",", pixels.shape)}].", nameof(pixels));
        }
        if (masks.Targets.Count == 0 || masks.Targets.Any(t => t.Count != masks.Targets[0].Count) || masks.Context.Count == 0)
        {
            throw new ArgumentException("Masks need a non-empty context and target blocks of one length.", nameof(masks));
        }
        lock (_lock)
        {
            using var scope = NewDisposeScope();
            using var inference = inference_mode();
            Tensor[] context = [Indices(masks.Context)];
            Tensor[] targets = [.. masks.Targets.Select(Indices)];
            Tensor encoded = _context.ForwardMasked(pixels, context);
            Tensor predicted = _predictor.Forward(encoded, context, targets);
            using IJepaModelOutput full = _target.Forward(pixels);
            Tensor normed = nn.functional.layer_norm(full.LastHiddenState, [full.LastHiddenState.shape[2]], eps: 1e-5);
            Tensor actual = MaskIndices.Apply(normed, targets, normed.device);
            return new JepaPrediction(masks, _context.Config.HiddenSize,
                predicted.to(ScalarType.Float32).cpu().contiguous().data<float>().ToArray(),
                actual.to(ScalarType.Float32).cpu().contiguous().data<float>().ToArray());
        }
    }

    /// <summary>Releases the three models.</summary>
    public void Dispose()
    {
        _context.Dispose();
        _target.Dispose();
        _predictor.Dispose();
    }

    private static Tensor Indices(IReadOnlyList<int> indices)
    {
        // The shape is taken from the array, not from indices.Count: Stryker mutates Count to LINQ's Sum, which does
        // not compile there, and then drops every mutant of this method.
        long[] values = [.. indices.Select(i => (long)i)];
        return tensor(values, [1, values.LongLength]);
    }
}
