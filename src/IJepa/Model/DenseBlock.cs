using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace IJepa.Model;

/// <summary>
/// A module holding one <c>dense</c> projection: transformers nests the attention output projection
/// and both MLP layers this way (<c>attention.output.dense</c>, <c>intermediate.dense</c>,
/// <c>output.dense</c>), and the module tree mirrors those keys.
/// </summary>
internal sealed class DenseBlock : nn.Module
{
    private readonly Linear _dense;

    public DenseBlock(string name, long inFeatures, long outFeatures, ScalarType dtype, Device device)
        : base(name)
    {
        _dense = new Linear(inFeatures, outFeatures, hasBias: true, dtype, device);
        register_module("dense", _dense);
    }

    public Tensor Forward(Tensor input) => _dense.Forward(input);

    public Tensor ForwardGelu(Tensor input, GELU.Approximate approximate) => _dense.ForwardGelu(input, approximate);
}
