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
    private Tensor? _packed;

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

    /// <summary>Whether <see cref="PackForInference"/> has replaced the weight.</summary>
    public bool IsPacked => _packed is not null;

    public Tensor Forward(Tensor input) => Project(input, gelu: null);

    /// <summary>gelu(x Wᵀ + b); the activation is fused into the projection where oneDNN runs it.</summary>
    public Tensor ForwardGelu(Tensor input, GELU.Approximate approximate) => Project(input, approximate);

    /// <summary>
    /// Replaces the weight by oneDNN's blocked copy of it and releases the plain one, so memory does
    /// not grow; false where that does not apply (not a bfloat16 CPU weight, no oneDNN shim).
    /// </summary>
    public bool PackForInference()
    {
        if (_packed is not null)
        {
            return true;
        }
        Tensor? packed = OneDnnLinear.TryPack(_weight);
        if (packed is null)
        {
            return false;
        }
        _packed = packed.DetachFromDisposeScope();
        using var noGrad = no_grad();
        using Tensor nothing = empty(0, _weight.dtype, _weight.device);
        _weight.set_(nothing);
        return true;
    }

    private Tensor Project(Tensor input, GELU.Approximate? gelu)
    {
        Tensor? fused = OneDnnLinear.TryForward(input, _packed ?? _weight, _bias, gelu);
        if (fused is not null)
        {
            return fused;
        }
        using Tensor? unpacked = _packed?.to_dense();
        Tensor output = nn.functional.linear(input, unpacked ?? _weight, _bias);
        return gelu is GELU.Approximate approximate ? output.gelu_(approximate) : output;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _packed?.Dispose();
            _packed = null;
        }
        base.Dispose(disposing);
    }
}
