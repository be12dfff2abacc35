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
        return MultiHeadAttention.Compute(q, k, v).MoveToOuterDisposeScope();
    }

    // [B, N, D] -> [B, heads, N, head_dim]
    private Tensor SplitHeads(Tensor x, long batch, long tokens) => x.view(batch, tokens, _heads, _headDim).transpose(1, 2);
}
