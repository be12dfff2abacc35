using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace IJepa.Model;

/// <summary>
/// y = x Wᵀ + b with parameters named <c>weight</c> and <c>bias</c>. Unlike TorchSharp's own Linear
/// its parameters start uninitialized: they are always overwritten by the checkpoint, and random
/// initialization of ViT-H's 631 M parameters would cost seconds for nothing.
/// </summary>
internal sealed class Linear : nn.Module
{
    private readonly Parameter _weight;
    private readonly Parameter? _bias;

    public Linear(long inFeatures, long outFeatures, bool hasBias, ScalarType dtype, Device device)
        : base(nameof(Linear))
    {
        _weight = new Parameter(empty([outFeatures, inFeatures], dtype, device), requires_grad: false);
        register_parameter("weight", _weight);
        if (hasBias)
        {
            _bias = new Parameter(empty([outFeatures], dtype, device), requires_grad: false);
            register_parameter("bias", _bias);
        }
    }

    public Tensor Forward(Tensor input) => nn.functional.linear(input, _weight, _bias);
}
