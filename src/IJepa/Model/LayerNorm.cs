using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace IJepa.Model;

/// <summary>LayerNorm over the last dimension with parameters <c>weight</c> and <c>bias</c>, uninitialized until loaded.</summary>
internal sealed class LayerNorm : nn.Module
{
    private readonly Parameter _weight;
    private readonly Parameter _bias;
    private readonly long[] _shape;
    private readonly double _eps;

    public LayerNorm(long size, double eps, ScalarType dtype, Device device)
        : base(nameof(LayerNorm))
    {
        _shape = [size];
        _eps = eps;
        _weight = new Parameter(empty(_shape, dtype, device), requires_grad: false);
        _bias = new Parameter(empty(_shape, dtype, device), requires_grad: false);
        register_parameter("weight", _weight);
        register_parameter("bias", _bias);
    }

    public Tensor Forward(Tensor input) => nn.functional.layer_norm(input, _shape, _weight, _bias, _eps);
}
