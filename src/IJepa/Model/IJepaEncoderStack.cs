using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace IJepa.Model;

/// <summary><c>encoder</c>: the blocks, as <c>encoder.layer.{i}</c>.</summary>
internal sealed class IJepaEncoderStack : nn.Module
{
    private readonly ModuleList<IJepaLayer> _layers;

    public IJepaEncoderStack(IJepaConfig config, ScalarType dtype, Device device)
        : base("encoder")
    {
        _layers = new ModuleList<IJepaLayer>();
        for (int i = 0; i < config.NumHiddenLayers; i++)
        {
            _layers.Add(new IJepaLayer(config, dtype, device));
        }
        register_module("layer", _layers);
    }

    public int Count => _layers.Count;

    public IJepaLayer this[int index] => _layers[index];
}
