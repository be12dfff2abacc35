using TorchSharp;
using static TorchSharp.torch;

namespace IJepa.Model;

/// <summary><c>encoder.layer.{i}.attention</c>: self-attention followed by its output projection.</summary>
internal sealed class IJepaAttention : nn.Module
{
    private readonly IJepaSelfAttention _attention;
    private readonly DenseBlock _output;

    public IJepaAttention(IJepaConfig config, ScalarType dtype, Device device)
        : base("attention")
    {
        _attention = new IJepaSelfAttention(config, dtype, device);
        _output = new DenseBlock("output", config.HiddenSize, config.HiddenSize, dtype, device);
        register_module("attention", _attention);
        register_module("output", _output);
    }

    public Tensor Forward(Tensor hidden)
    {
        using Tensor context = _attention.Forward(hidden);
        return _output.Forward(context);
    }
}
