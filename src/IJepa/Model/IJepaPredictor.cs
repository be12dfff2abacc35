using IJepa.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace IJepa.Model;

/// <summary>Sizes of an I-JEPA predictor (inferred from an original checkpoint's tensor shapes).</summary>
/// <param name="EmbedDim">The encoder width D the predictor reads and predicts.</param>
/// <param name="PredictorEmbedDim">The predictor's own width (384 for the published models).</param>
/// <param name="Depth">Number of blocks (12 for ViT-H, 16 for ViT-g).</param>
/// <param name="NumHeads">Attention heads: the encoder's.</param>
/// <param name="MlpHidden">Hidden width of each block's MLP.</param>
/// <param name="GridSize">Patches per side of the image grid.</param>
public sealed record IJepaPredictorConfig(int EmbedDim, int PredictorEmbedDim, int Depth, int NumHeads, int MlpHidden, int GridSize);

/// <summary>
/// I-JEPA's predictor: from the context encoder's tokens and the indices of the context and of the hidden
/// target blocks, it predicts the target encoder's representations of the targets. Module names follow
/// the original checkpoint (predictor_embed, mask_token, predictor_pos_embed, predictor_blocks.N.*,
/// predictor_norm, predictor_proj), so loading is a walk over them.
/// </summary>
public sealed class IJepaPredictor : nn.Module
{
    private readonly Linear _embed;
    private readonly Parameter _maskToken;
    private readonly Parameter _positions;
    private readonly ModuleList<VitBlock> _blocks;
    private readonly LayerNorm _norm;
    private readonly Linear _proj;

    internal IJepaPredictor(IJepaPredictorConfig config, ScalarType dtype, Device device)
        : base("predictor")
    {
        Config = config;
        DType = dtype;
        Device = device;
        long e = config.PredictorEmbedDim;
        _embed = new Linear(config.EmbedDim, e, hasBias: true, dtype, device);
        _maskToken = new Parameter(empty([1, 1, e], dtype, device), requires_grad: false);
        _positions = new Parameter(empty([1, (long)config.GridSize * config.GridSize, e], dtype, device), requires_grad: false);
        _blocks = new ModuleList<VitBlock>();
        for (int i = 0; i < config.Depth; i++)
        {
            _blocks.Add(new VitBlock(e, config.NumHeads, config.MlpHidden, 1e-6, dtype, device));
        }
        _norm = new LayerNorm(e, 1e-6, dtype, device);
        _proj = new Linear(e, config.EmbedDim, hasBias: true, dtype, device);
        register_module("predictor_embed", _embed);
        register_parameter("mask_token", _maskToken);
        register_parameter("predictor_pos_embed", _positions);
        register_module("predictor_blocks", _blocks);
        register_module("predictor_norm", _norm);
        register_module("predictor_proj", _proj);
    }

    /// <summary>The sizes.</summary>
    public IJepaPredictorConfig Config { get; }

    /// <summary>Parameter dtype.</summary>
    public ScalarType DType { get; }

    /// <summary>Parameter device.</summary>
    public Device Device { get; }

    /// <summary>
    /// Predicts the target representations. <paramref name="context"/> is the context encoder's output for
    /// <paramref name="contextMasks"/> ([contextMasks × B, Kc, D]); each target mask is [B, Kt] patch indices.
    /// Returns [targetMasks × contextMasks × B, Kt, D], target-mask-major, as the original code orders it.
    /// </summary>
    public Tensor Forward(Tensor context, IReadOnlyList<Tensor> contextMasks, IReadOnlyList<Tensor> targetMasks)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(contextMasks);
        ArgumentNullException.ThrowIfNull(targetMasks);
        if (context.dim() != 3 || context.shape[2] != Config.EmbedDim || contextMasks.Count == 0 || context.shape[0] % contextMasks.Count != 0)
        {
            throw new ArgumentException($"The context must be [masks × B, K, {Config.EmbedDim}]; got [{string.Join(",", context.shape)}].", nameof(context));
        }
        using var inference = inference_mode();
        using var scope = NewDisposeScope();
        long batch = context.shape[0] / contextMasks.Count;
        Tensor x = _embed.Forward(context.to(DType, Device));
        Tensor positions = _positions.expand(batch, -1, -1);
        x = x.add(MaskIndices.Apply(positions, contextMasks, Device), HeldScalars.One);
        long contextTokens = x.shape[1];
        Tensor targetPositions = RepeatInterleaveBatch(MaskIndices.Apply(positions, targetMasks, Device), batch, contextMasks.Count);
        Tensor targets = _maskToken.add(targetPositions, HeldScalars.One);
        x = cat([x.repeat(targetMasks.Count, 1, 1), targets], 1);
        for (int i = 0; i < _blocks.Count; i++)
        {
            x = _blocks[i].Forward(x);
        }
        x = _norm.Forward(x)[.., (int)contextTokens..];
        return _proj.Forward(x).MoveToOuterDisposeScope();
    }

    /// <summary>The fixed 2-D sine-cosine positions I-JEPA uses: half the channels from each grid axis. [grid², dim].</summary>
    public static Tensor SinCosPositions(int dim, int grid)
    {
        using var scope = NewDisposeScope();
        Tensor coordinates = HeldScalars.Arange(grid, ScalarType.Float64);
        Tensor columns = coordinates.repeat(grid);                        // meshgrid(w, h)[0]: x varies fastest
        Tensor rows = coordinates.repeat_interleave(grid);                 // meshgrid(w, h)[1]
        return cat([OneAxis(dim / 2, columns), OneAxis(dim / 2, rows)], 1).MoveToOuterDisposeScope();

        static Tensor OneAxis(int dim, Tensor positions)
        {
            using Scalar half = (dim / 2.0).ToScalar();
            Tensor exponents = HeldScalars.Arange(dim / 2, ScalarType.Float64).div_(half);
            Tensor omega = pow(10000.0, exponents).reciprocal_();
            Tensor angles = outer(positions, omega);
            return cat([angles.sin(), angles.cos()], 1);
        }
    }

    // The original repeat_interleave_batch: each group of B rows repeated `repeat` times in place.
    private static Tensor RepeatInterleaveBatch(Tensor x, long batch, int repeat)
    {
        if (repeat == 1)
        {
            return x;
        }
        long groups = x.shape[0] / batch;
        var parts = new List<Tensor>();
        for (long g = 0; g < groups; g++)
        {
            Tensor group = x[(int)(g * batch)..(int)((g + 1) * batch)];
            for (int r = 0; r < repeat; r++)
            {
                parts.Add(group);
            }
        }
        return cat(parts, 0);
    }
}
