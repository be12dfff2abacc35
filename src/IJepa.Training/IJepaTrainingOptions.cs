using IJepa.Masking;
using IJepa.Model;

namespace IJepa.Training;

/// <summary>
/// Everything that defines an I-JEPA training run. The defaults are the paper's ImageNet settings
/// (Assran et al. 2023, appendix; the ViT-H/14 config): AdamW with learning rate warmed up from 2e-4 to 1e-3 and then
/// cosine-decayed to 1e-6, weight decay on a cosine from 0.04 to 0.4 (not on biases and 1-D parameters),
/// EMA momentum linear from 0.996 to 1.0, multi-block masks (one context block of scale 0.85–1.0, four
/// target blocks of scale 0.15–0.2, aspect 0.75–1.5), RandomResizedCrop of scale 0.3–1.0 as the only augmentation.
/// </summary>
public sealed record IJepaTrainingOptions
{
    /// <summary>The encoder's sizes (context and target encoder alike).</summary>
    public required IJepaConfig Encoder { get; init; }

    /// <summary>The predictor's width (384 in the paper; it uses the encoder's head count, so it must divide by it).</summary>
    public required int PredictorWidth { get; init; }

    /// <summary>The predictor's blocks (12 in the paper for ViT-H).</summary>
    public required int PredictorDepth { get; init; }

    /// <summary>Images per optimizer step.</summary>
    public required int BatchSize { get; init; }

    /// <summary>Optimizer steps of the whole run: the schedules' horizon (epochs × iterations per epoch).</summary>
    public required long TotalSteps { get; init; }

    /// <summary>Steps of linear learning-rate warm-up (the paper: 40 of 300 epochs).</summary>
    public long WarmupSteps { get; init; }

    /// <summary>Learning rate at the start of the warm-up.</summary>
    public double StartLearningRate { get; init; } = 2e-4;

    /// <summary>Learning rate at the end of the warm-up (the peak).</summary>
    public double LearningRate { get; init; } = 1e-3;

    /// <summary>Learning rate at the end of the cosine.</summary>
    public double FinalLearningRate { get; init; } = 1e-6;

    /// <summary>Weight decay at the start (cosine schedule).</summary>
    public double WeightDecay { get; init; } = 0.04;

    /// <summary>Weight decay at the end.</summary>
    public double FinalWeightDecay { get; init; } = 0.4;

    /// <summary>EMA momentum of the target encoder at the first step.</summary>
    public double EmaStart { get; init; } = 0.996;

    /// <summary>EMA momentum at the end of the run.</summary>
    public double EmaEnd { get; init; } = 1.0;

    /// <summary>AdamW β1.</summary>
    public double Beta1 { get; init; } = 0.9;

    /// <summary>AdamW β2.</summary>
    public double Beta2 { get; init; } = 0.999;

    /// <summary>AdamW ε.</summary>
    public double Epsilon { get; init; } = 1e-8;

    /// <summary>The multi-block masks (defaults: the paper's). Small grids need a lower <see cref="MultiBlockMaskOptions.MinKeep"/>.</summary>
    public MultiBlockMaskOptions Masks { get; init; } = new();

    /// <summary>RandomResizedCrop's area range.</summary>
    public (double Min, double Max) CropScale { get; init; } = (0.3, 1.0);

    /// <summary>Random horizontal flips (off, as in the paper's ImageNet configs).</summary>
    public bool HorizontalFlip { get; init; }

    /// <summary>Per-channel mean the pixels are normalized with (the Hugging Face I-JEPA preprocessing: 0.5).</summary>
    public IReadOnlyList<double> ImageMean { get; init; } = [0.5, 0.5, 0.5];

    /// <summary>Per-channel standard deviation (0.5).</summary>
    public IReadOnlyList<double> ImageStd { get; init; } = [0.5, 0.5, 0.5];

    /// <summary>
    /// The type of the matrix products (linear layers, the patch projection, attention) in all three networks:
    /// <see cref="ComputeDType.Float32"/> (the default), or <see cref="ComputeDType.BFloat16"/> for mixed precision:
    /// the products run in bfloat16 and their results return to float32, so parameters, gradients, optimizer state,
    /// norms and the loss stay float32. It should pay where bfloat16 arithmetic is native (recent GPUs; CPUs with
    /// AVX-512 BF16 or AMX; not measured here); elsewhere libtorch emulates it and a step is slower (see README).
    /// Float16 is refused: it needs loss scaling, which is not built.
    /// </summary>
    public ComputeDType Precision { get; init; } = ComputeDType.Float32;

    /// <summary>Seeds the initial weights, masks, crops and data order: a run is a function of this.</summary>
    public int Seed { get; init; }

    /// <summary>The problems that make these options unusable (empty when fine).</summary>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>(Encoder.Validate());
        if (PredictorWidth < 1 || PredictorWidth % Encoder.NumAttentionHeads != 0 || (PredictorWidth / Encoder.NumAttentionHeads) % 2 != 0)
        {
            problems.Add($"PredictorWidth {PredictorWidth} must be a positive multiple of the {Encoder.NumAttentionHeads} heads");
        }
        if (PredictorWidth % 4 != 0 || Encoder.HiddenSize % 4 != 0)
        {
            problems.Add("the widths must be multiples of 4 (the sine-cosine positions use a quarter per axis and function)");
        }
        if (PredictorDepth < 1)
        {
            problems.Add("PredictorDepth must be at least 1");
        }
        if (BatchSize < 1)
        {
            problems.Add("BatchSize must be at least 1");
        }
        if (TotalSteps < 1 || WarmupSteps < 0 || WarmupSteps > TotalSteps)
        {
            problems.Add($"need 0 <= WarmupSteps ({WarmupSteps}) <= TotalSteps ({TotalSteps}), TotalSteps >= 1");
        }
        if (CropScale.Min <= 0 || CropScale.Max > 1 || CropScale.Min > CropScale.Max)
        {
            problems.Add($"CropScale {CropScale} must lie in (0, 1] and be ordered");
        }
        if (Precision is not (ComputeDType.Float32 or ComputeDType.BFloat16))
        {
            problems.Add($"Precision {Precision} is not supported for training: use Float32 or BFloat16 (float16 needs loss scaling)");
        }
        if (ImageMean.Count != Encoder.NumChannels || ImageStd.Count != Encoder.NumChannels)
        {
            problems.Add($"ImageMean and ImageStd need {Encoder.NumChannels} values");
        }
        return problems;
    }
}
