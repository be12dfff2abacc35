using IJepa.Runtime;
using IJepaPredictor = IJepa.Model.IJepaPredictor;
using IJepaConfig = IJepa.Model.IJepaConfig;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace IJepa.Training;

// The three training networks with the original training code's module names, so that a state dict is
// the checkpoint's (pos_embed, patch_embed.proj.*, blocks.N.{norm1,attn.qkv,attn.proj,norm2,mlp.fc1,mlp.fc2}.*,
// norm.*; predictor_embed.*, mask_token, predictor_pos_embed, predictor_blocks.N.*, predictor_norm.*,
// predictor_proj.*). Unlike the inference modules of the IJepa library they run with autograd and use
// TorchSharp's own layers (the inference Linear may route through oneDNN kernels that have no backward).
// Parameters a module holds itself are registered before its children: PyTorch lists a module's own
// parameters first, and the optimizer state of a checkpoint numbers parameters in that order.

/// <summary>A pre-norm transformer block: x + attn(norm1(x)), then + mlp(norm2(x)).</summary>
internal sealed class TrainingBlock : nn.Module
{
    private readonly LayerNorm _norm1;
    private readonly TrainingAttention _attn;
    private readonly LayerNorm _norm2;
    private readonly TrainingMlp _mlp;

    // matmulType: the type the matrix products run in (mixed precision; see MixedPrecision); null for float32 throughout.
    public TrainingBlock(long dim, long heads, long hidden, ScalarType? matmulType)
        : base("block")
    {
        _norm1 = nn.LayerNorm(dim, 1e-6);
        _attn = new TrainingAttention(dim, heads, matmulType);
        _norm2 = nn.LayerNorm(dim, 1e-6);
        _mlp = new TrainingMlp(dim, hidden, matmulType);
        register_module("norm1", _norm1);
        register_module("attn", _attn);
        register_module("norm2", _norm2);
        register_module("mlp", _mlp);
    }

    public Tensor Forward(Tensor x)
    {
        Tensor h = x.add(_attn.Forward(_norm1.forward(x)), HeldScalars.One);
        return h.add(_mlp.Forward(_norm2.forward(h)), HeldScalars.One);
    }

    private sealed class TrainingAttention : nn.Module
    {
        private readonly Linear _qkv;
        private readonly Linear _proj;
        private readonly long _heads;
        private readonly ScalarType? _matmulType;

        public TrainingAttention(long dim, long heads, ScalarType? matmulType)
            : base("attn")
        {
            _heads = heads;
            _matmulType = matmulType;
            _qkv = nn.Linear(dim, 3 * dim, hasBias: true);
            _proj = nn.Linear(dim, dim, hasBias: true);
            register_module("qkv", _qkv);
            register_module("proj", _proj);
        }

        public Tensor Forward(Tensor x)
        {
            long batch = x.shape[0], tokens = x.shape[1], dim = x.shape[2];
            // [B, N, 3D] -> [3, B, heads, N, head_dim]: q, k, v are the fused projection's row blocks.
            Tensor qkv = MixedPrecision.Linear(_qkv, x, _matmulType).view(batch, tokens, 3, _heads, dim / _heads).permute(2, 0, 3, 1, 4);
            Tensor context = MixedPrecision.Attention(qkv[0], qkv[1], qkv[2], _matmulType);
            return MixedPrecision.Linear(_proj, context.transpose(1, 2).reshape(batch, tokens, dim), _matmulType);
        }
    }

    private sealed class TrainingMlp : nn.Module
    {
        private readonly Linear _fc1;
        private readonly Linear _fc2;
        private readonly ScalarType? _matmulType;

        public TrainingMlp(long dim, long hidden, ScalarType? matmulType)
            : base("mlp")
        {
            _matmulType = matmulType;
            _fc1 = nn.Linear(dim, hidden, hasBias: true);
            _fc2 = nn.Linear(hidden, dim, hasBias: true);
            register_module("fc1", _fc1);
            register_module("fc2", _fc2);
        }

        public Tensor Forward(Tensor x) =>
            MixedPrecision.Linear(_fc2, nn.functional.gelu(MixedPrecision.Linear(_fc1, x, _matmulType)), _matmulType);
    }
}

/// <summary>The patch projection, a child so that its keys read <c>patch_embed.proj.weight</c>.</summary>
internal sealed class TrainingPatchEmbed : nn.Module
{
    private readonly Conv2d _proj;
    private readonly ScalarType? _matmulType;

    public TrainingPatchEmbed(IJepaConfig config, ScalarType? matmulType)
        : base("patch_embed")
    {
        _matmulType = matmulType;
        _proj = nn.Conv2d(config.NumChannels, config.HiddenSize, config.PatchSize, stride: config.PatchSize);
        register_module("proj", _proj);
    }

    /// <summary>[B, C, H, W] → [B, h·w, D], tokens in row-major order of the patch grid.</summary>
    public Tensor Forward(Tensor pixels) => MixedPrecision.Conv(_proj, pixels, _matmulType).flatten(2).transpose(1, 2);
}

/// <summary>
/// The I-JEPA ViT as the training code builds it (context and target encoder alike): patch tokens plus the
/// fixed sine-cosine positions, then — for the context encoder — only the tokens of the context mask, the
/// blocks and the final norm.
/// </summary>
internal sealed class TrainingEncoder : nn.Module
{
    private readonly Parameter _posEmbed;
    private readonly TrainingPatchEmbed _patchEmbed;
    private readonly ModuleList<TrainingBlock> _blocks;
    private readonly LayerNorm _norm;

    // matmulType: as for TrainingBlock.
    public TrainingEncoder(IJepaConfig config, ScalarType? matmulType)
        : base("encoder")
    {
        Config = config;
        // Fixed, as in the paper's code: the positions are part of the state dict but never trained.
        using (Tensor positions = IJepaPredictor.SinCosPositions(config.HiddenSize, config.GridSize))
        {
            _posEmbed = new Parameter(positions.to(ScalarType.Float32).unsqueeze(0), requires_grad: false);
        }
        register_parameter("pos_embed", _posEmbed);
        _patchEmbed = new TrainingPatchEmbed(config, matmulType);
        register_module("patch_embed", _patchEmbed);
        _blocks = new ModuleList<TrainingBlock>();
        for (int i = 0; i < config.NumHiddenLayers; i++)
        {
            _blocks.Add(new TrainingBlock(config.HiddenSize, config.NumAttentionHeads, config.IntermediateSize, matmulType));
        }
        register_module("blocks", _blocks);
        _norm = nn.LayerNorm(config.HiddenSize, 1e-6);
        register_module("norm", _norm);
    }

    public IJepaConfig Config { get; }

    public int Depth => _blocks.Count;

    /// <summary>Encodes [B, C, H, W]; with masks, only their tokens ([masks × B, K, D], mask-major).</summary>
    public Tensor Forward(Tensor pixels, IReadOnlyList<Tensor>? masks)
    {
        Tensor x = _patchEmbed.Forward(pixels).add(_posEmbed, HeldScalars.One);
        if (masks is not null)
        {
            x = Masks.Gather(x, masks);
        }
        for (int i = 0; i < _blocks.Count; i++)
        {
            x = _blocks[i].Forward(x);
        }
        return _norm.forward(x);
    }
}

/// <summary>
/// The predictor: embeds the context tokens to its own width, adds the positions of the context patches,
/// appends one mask token per target patch (plus that patch's position), runs its blocks and projects the
/// target tokens back to the encoder width.
/// </summary>
internal sealed class TrainingPredictor : nn.Module
{
    private readonly Parameter _maskToken;
    private readonly Parameter _positions;
    private readonly Linear _embed;
    private readonly ModuleList<TrainingBlock> _blocks;
    private readonly LayerNorm _norm;
    private readonly Linear _proj;
    private readonly ScalarType? _matmulType;

    // matmulType: as for TrainingBlock.
    public TrainingPredictor(IJepaConfig encoder, int width, int depth, ScalarType? matmulType)
        : base("predictor")
    {
        _matmulType = matmulType;
        _maskToken = new Parameter(zeros(1, 1, width), requires_grad: true);
        register_parameter("mask_token", _maskToken);
        using (Tensor positions = IJepaPredictor.SinCosPositions(width, encoder.GridSize))
        {
            _positions = new Parameter(positions.to(ScalarType.Float32).unsqueeze(0), requires_grad: false);
        }
        register_parameter("predictor_pos_embed", _positions);
        _embed = nn.Linear(encoder.HiddenSize, width, hasBias: true);
        register_module("predictor_embed", _embed);
        _blocks = new ModuleList<TrainingBlock>();
        for (int i = 0; i < depth; i++)
        {
            // The original predictor uses the encoder's head count and an MLP ratio of 4.
            _blocks.Add(new TrainingBlock(width, encoder.NumAttentionHeads, 4L * width, matmulType));
        }
        register_module("predictor_blocks", _blocks);
        _norm = nn.LayerNorm(width, 1e-6);
        register_module("predictor_norm", _norm);
        _proj = nn.Linear(width, encoder.HiddenSize, hasBias: true);
        register_module("predictor_proj", _proj);
    }

    public int Depth => _blocks.Count;

    /// <summary>
    /// context [contextMasks × B, Kc, D] → predictions [targetMasks × contextMasks × B, Kt, D], target-mask-major.
    /// </summary>
    public Tensor Forward(Tensor context, IReadOnlyList<Tensor> contextMasks, IReadOnlyList<Tensor> targetMasks)
    {
        long batch = context.shape[0] / contextMasks.Count;
        Tensor x = MixedPrecision.Linear(_embed, context, _matmulType);
        Tensor positions = _positions.expand(batch, -1, -1);
        x = x.add(Masks.Gather(positions, contextMasks), HeldScalars.One);
        long contextTokens = x.shape[1];
        Tensor targetPositions = Masks.RepeatInterleaveBatch(Masks.Gather(positions, targetMasks), batch, contextMasks.Count);
        Tensor queries = _maskToken.add(targetPositions, HeldScalars.One);
        x = cat([x.repeat(targetMasks.Count, 1, 1), queries], 1);
        for (int i = 0; i < _blocks.Count; i++)
        {
            x = _blocks[i].Forward(x);
        }
        x = _norm.forward(x)[.., (int)contextTokens..];
        return MixedPrecision.Linear(_proj, x, _matmulType);
    }
}

/// <summary>
/// Mixed precision for the matrix products (TorchSharp has no autocast): a product runs on low-precision copies of
/// its input and of the float32 parameters, as under PyTorch's autocast, but its result is cast back to float32
/// where autocast would keep it low: simpler and safer (the norms, GELU, the residual sums and the loss never see
/// bfloat16), at the cost of extra casts and of activations kept in float32. Parameters, gradients and the optimizer
/// stay float32; the casts are in the autograd graph, so the gradients reach the parameters through them.
/// </summary>
internal static class MixedPrecision
{
    public static Tensor Linear(Linear layer, Tensor x, ScalarType? type) => type is ScalarType t
        ? nn.functional.linear(x.to(t), layer.weight!.to(t), layer.bias?.to(t)).to(x.dtype)
        : layer.forward(x);

    // Stride only: the patch projection has no padding, dilation or groups.
    public static Tensor Conv(Conv2d conv, Tensor x, ScalarType? type) => type is ScalarType t
        ? nn.functional.conv2d(x.to(t), conv.weight!.to(t), conv.bias?.to(t), strides: conv.stride).to(x.dtype)
        : conv.forward(x);

    public static Tensor Attention(Tensor q, Tensor k, Tensor v, ScalarType? type) => type is ScalarType t
        ? nn.functional.scaled_dot_product_attention(q.to(t), k.to(t), v.to(t)).to(q.dtype)
        : nn.functional.scaled_dot_product_attention(q, k, v);
}

/// <summary>Token gathering by patch-index masks, as the paper's code does it.</summary>
internal static class Masks
{
    /// <summary>x [B, N, D] and masks of [B, K] int64 indices → [masks × B, K, D], mask-major.</summary>
    public static Tensor Gather(Tensor x, IReadOnlyList<Tensor> masks)
    {
        long batch = x.shape[0], dim = x.shape[2];
        var parts = new Tensor[masks.Count];
        for (int i = 0; i < masks.Count; i++)
        {
            parts[i] = x.gather(1, masks[i].unsqueeze(-1).expand(batch, masks[i].shape[1], dim));
        }
        return parts.Length == 1 ? parts[0] : cat(parts, 0);
    }

    /// <summary>Each group of <paramref name="batch"/> rows repeated <paramref name="repeat"/> times in place.</summary>
    public static Tensor RepeatInterleaveBatch(Tensor x, long batch, int repeat)
    {
        if (repeat == 1)
        {
            return x;
        }
        long groups = x.shape[0] / batch;
        var parts = new List<Tensor>();
        for (long g = 0; g < groups; g++)
        {
            Tensor group = x.narrow(0, g * batch, batch);
            for (int r = 0; r < repeat; r++)
            {
                parts.Add(group);
            }
        }
        return cat(parts, 0);
    }
}
