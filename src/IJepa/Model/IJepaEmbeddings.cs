using IJepa.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace IJepa.Model;

/// <summary>
/// <c>embeddings</c>: patch tokens plus learned position embeddings. I-JEPA has no class token, so
/// every position embedding belongs to a patch.
/// </summary>
internal sealed class IJepaEmbeddings : nn.Module
{
    private readonly IJepaConfig _config;
    private readonly IJepaPatchEmbeddings _patchEmbeddings;
    private readonly Parameter _positionEmbeddings;

    public IJepaEmbeddings(IJepaConfig config, ScalarType dtype, Device device)
        : base("embeddings")
    {
        _config = config;
        _patchEmbeddings = new IJepaPatchEmbeddings(config, dtype, device);
        _positionEmbeddings = new Parameter(empty([1, config.NumPatches, config.HiddenSize], dtype, device), requires_grad: false);
        register_module("patch_embeddings", _patchEmbeddings);
        register_parameter("position_embeddings", _positionEmbeddings);
    }

    public Tensor Forward(Tensor pixels, bool interpolatePosEncoding)
    {
        long height = pixels.shape[2], width = pixels.shape[3];
        using Tensor tokens = _patchEmbeddings.Forward(pixels);
        if (!interpolatePosEncoding || (tokens.shape[1] == _config.NumPatches && height == width))
        {
            return tokens.add(_positionEmbeddings, HeldScalars.One);
        }
        using Tensor positions = InterpolatePositions(height / _config.PatchSize, width / _config.PatchSize);
        return tokens.add(positions, HeldScalars.One);
    }

    /// <summary>
    /// The trained square grid of position embeddings resampled to gridHeight × gridWidth with
    /// bicubic interpolation (align_corners = false), as transformers' interpolate_pos_encoding does.
    /// </summary>
    private Tensor InterpolatePositions(long gridHeight, long gridWidth)
    {
        using var scope = NewDisposeScope();
        int side = _config.GridSize;
        long dim = _config.HiddenSize;
        // Bicubic in float32 at least: half-precision grids would lose the small weights of the far taps.
        ScalarType working = _positionEmbeddings.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
        Tensor grid = _positionEmbeddings.to(working).reshape(1, side, side, dim).permute(0, 3, 1, 2);
        Tensor resized = nn.functional.interpolate(grid, size: [gridHeight, gridWidth], mode: InterpolationMode.Bicubic, align_corners: false);
        Tensor tokens = resized.permute(0, 2, 3, 1).reshape(1, gridHeight * gridWidth, dim).to(_positionEmbeddings.dtype);
        return tokens.MoveToOuterDisposeScope();
    }
}
