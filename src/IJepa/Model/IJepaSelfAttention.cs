using TorchSharp;
using static TorchSharp.torch;

namespace IJepa.Model;

/// <summary><c>attention.attention</c>: multi-head scaled dot-product self-attention (scale head_dim^-0.5).</summary>
internal sealed class IJepaSelfAttention : nn.Module
{
    private readonly Linear _query;
    private readonly Linear _key;
    private readonly Linear _value;
    private readonly long _heads;
    private readonly long _headDim;

    public IJepaSelfAttention(IJepaConfig config, ScalarType dtype, Device device)
        : base("attention")
    {
        _heads = config.NumAttentionHeads;
        _headDim = config.HeadDim;
        _query = new Linear(config.HiddenSize, config.HiddenSize, config.QkvBias, dtype, device);
        _key = new Linear(config.HiddenSize, config.HiddenSize, config.QkvBias, dtype, device);
        _value = new Linear(config.HiddenSize, config.HiddenSize, config.QkvBias, dtype, device);
        register_module("query", _query);
        register_module("key", _key);
        register_module("value", _value);
    }

    public Tensor Forward(Tensor hidden)
    {
        using var scope = NewDisposeScope();
        long batch = hidden.shape[0], tokens = hidden.shape[1];
        Tensor q = SplitHeads(_query.Forward(hidden), batch, tokens);
        Tensor k = SplitHeads(_key.Forward(hidden), batch, tokens);
        Tensor v = SplitHeads(_value.Forward(hidden), batch, tokens);
        Tensor context = q.dtype == ScalarType.BFloat16 && q.device_type == DeviceType.CPU
            ? ExplicitAttention(q, k, v)
            : nn.functional.scaled_dot_product_attention(q, k, v);
        return context.transpose(1, 2).reshape(batch, tokens, _heads * _headDim).MoveToOuterDisposeScope();
    }

    // libtorch's CPU flash-attention kernel runs bfloat16 at about a third of the batched-matmul rate;
    // softmax(q·kᵀ/√d)·v spelled out goes through oneDNN's bfloat16 GEMMs instead (measured in bench).
    private Tensor ExplicitAttention(Tensor q, Tensor k, Tensor v)
    {
        Tensor scores = matmul(q, k.transpose(-1, -2)).mul_(1.0 / Math.Sqrt(_headDim));
        return matmul(scores.softmax(-1), v);
    }

    // [B, N, D] -> [B, heads, N, head_dim]
    private Tensor SplitHeads(Tensor x, long batch, long tokens) => x.view(batch, tokens, _heads, _headDim).transpose(1, 2);
}
