using IJepa.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace IJepa.Model;

/// <summary>
/// <c>encoder.layer.{i}</c>: a pre-norm transformer block.
/// h = x + attention(LN_before(x)); out = h + fc2(gelu(fc1(LN_after(h)))).
/// </summary>
internal sealed class IJepaLayer : nn.Module
{
    private readonly LayerNorm _layernormBefore;
    private readonly IJepaAttention _attention;
    private readonly LayerNorm _layernormAfter;
    private readonly DenseBlock _intermediate;
    private readonly DenseBlock _output;
    private readonly bool _tanhGelu;

    public IJepaLayer(IJepaConfig config, ScalarType dtype, Device device)
        : base("layer")
    {
        _tanhGelu = config.HiddenAct != "gelu";
        _layernormBefore = new LayerNorm(config.HiddenSize, config.LayerNormEps, dtype, device);
        _attention = new IJepaAttention(config, dtype, device);
        _layernormAfter = new LayerNorm(config.HiddenSize, config.LayerNormEps, dtype, device);
        _intermediate = new DenseBlock("intermediate", config.HiddenSize, config.IntermediateSize, dtype, device);
        _output = new DenseBlock("output", config.IntermediateSize, config.HiddenSize, dtype, device);
        register_module("layernorm_before", _layernormBefore);
        register_module("attention", _attention);
        register_module("layernorm_after", _layernormAfter);
        register_module("intermediate", _intermediate);
        register_module("output", _output);
    }

    public Tensor Forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        // Residuals are added in place into the freshly computed branch outputs: no extra [B, N, D] buffers.
        Tensor h = _attention.Forward(_layernormBefore.Forward(x)).add_(x, HeldScalars.One);
        Tensor activated = _intermediate.ForwardGelu(_layernormAfter.Forward(h), _tanhGelu ? GELU.Approximate.tanh : GELU.Approximate.none);
        return _output.Forward(activated).add_(h, HeldScalars.One).MoveToOuterDisposeScope();
    }
}
