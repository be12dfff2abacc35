using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace IJepa.Model;

/// <summary>
/// <c>embeddings.patch_embeddings</c>: a convolution whose kernel and stride are the patch size (so
/// each output is one patch's linear projection), flattened to tokens [B, N, D].
/// </summary>
internal sealed class IJepaPatchEmbeddings : nn.Module
{
    // TorchSharp would register Parameter fields of this module a second time, so they stay in the child.
    private readonly ConvolutionParameters _projection;
    private readonly long[] _stride;

    public IJepaPatchEmbeddings(IJepaConfig config, ScalarType dtype, Device device)
        : base("patch_embeddings")
    {
        _stride = [config.PatchSize, config.PatchSize];
        // Registered as "projection.weight"/"projection.bias" via a child so the keys match the checkpoint.
        _projection = new ConvolutionParameters(config, dtype, device);
        register_module("projection", _projection);
    }

    public Tensor Forward(Tensor pixels)
    {
        using Tensor grid = nn.functional.conv2d(pixels, _projection.Weight, _projection.Bias, strides: _stride);
        // [B, D, h, w] -> [B, h*w, D], tokens in row-major order of the patch grid.
        return grid.flatten(2).transpose(1, 2);
    }

    private sealed class ConvolutionParameters : nn.Module
    {
        public ConvolutionParameters(IJepaConfig config, ScalarType dtype, Device device)
            : base("projection")
        {
            Weight = new Parameter(empty([config.HiddenSize, config.NumChannels, config.PatchSize, config.PatchSize], dtype, device), requires_grad: false);
            Bias = new Parameter(empty([config.HiddenSize], dtype, device), requires_grad: false);
            register_parameter("weight", Weight);
            register_parameter("bias", Bias);
        }

        public Parameter Weight { get; }

        public Parameter Bias { get; }
    }
}
