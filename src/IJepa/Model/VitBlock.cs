using IJepa.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace IJepa.Model;

/// <summary>
/// A transformer block with the original I-JEPA code's names and fused qkv projection
/// (norm1, attn.qkv, attn.proj, norm2, mlp.fc1, mlp.fc2): the predictor's blocks, loaded by walking those keys.
/// </summary>
internal sealed class VitBlock : nn.Module
{
    private readonly LayerNorm _norm1;
    private readonly VitAttention _attn;
    private readonly LayerNorm _norm2;
    private readonly VitMlp _mlp;

    public VitBlock(long dim, long heads, long hidden, double eps, ScalarType dtype, Device device)
        : base("block")
    {
        _norm1 = new LayerNorm(dim, eps, dtype, device);
        _attn = new VitAttention(dim, heads, dtype, device);
        _norm2 = new LayerNorm(dim, eps, dtype, device);
        _mlp = new VitMlp(dim, hidden, dtype, device);
        register_module("norm1", _norm1);
        register_module("attn", _attn);
        register_module("norm2", _norm2);
        register_module("mlp", _mlp);
    }

    public Tensor Forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        Tensor h = _attn.Forward(_norm1.Forward(x)).add_(x, HeldScalars.One);
        return _mlp.Forward(_norm2.Forward(h)).add_(h, HeldScalars.One).MoveToOuterDisposeScope();
    }

    private sealed class VitAttention : nn.Module
    {
        private readonly Linear _qkv;
        private readonly Linear _proj;
        private readonly long _heads;

        public VitAttention(long dim, long heads, ScalarType dtype, Device device)
            : base("attn")
        {
            _heads = heads;
            _qkv = new Linear(dim, 3 * dim, hasBias: true, dtype, device);
            _proj = new Linear(dim, dim, hasBias: true, dtype, device);
            register_module("qkv", _qkv);
            register_module("proj", _proj);
        }

        public Tensor Forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            long batch = x.shape[0], tokens = x.shape[1], dim = x.shape[2];
            // [B, N, 3D] -> [3, B, heads, N, head_dim], as the original reshape(B, N, 3, heads, hd).permute(2, 0, 3, 1, 4).
            Tensor qkv = _qkv.Forward(x).view(batch, tokens, 3, _heads, dim / _heads).permute(2, 0, 3, 1, 4);
            Tensor context = MultiHeadAttention.Compute(qkv[0], qkv[1], qkv[2]);
            return _proj.Forward(context).MoveToOuterDisposeScope();
        }
    }

    private sealed class VitMlp : nn.Module
    {
        private readonly Linear _fc1;
        private readonly Linear _fc2;

        public VitMlp(long dim, long hidden, ScalarType dtype, Device device)
            : base("mlp")
        {
            _fc1 = new Linear(dim, hidden, hasBias: true, dtype, device);
            _fc2 = new Linear(hidden, dim, hasBias: true, dtype, device);
            register_module("fc1", _fc1);
            register_module("fc2", _fc2);
        }

        public Tensor Forward(Tensor x)
        {
            using Tensor hidden = _fc1.ForwardGelu(x, TorchSharp.Modules.GELU.Approximate.none);
            return _fc2.Forward(hidden);
        }
    }
}
