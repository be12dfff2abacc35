namespace IJepa;

/// <summary>The I-JEPA features of one image, as plain arrays (no TorchSharp types).</summary>
public sealed class ImageEmbedding
{
    internal ImageEmbedding(string name, float[] pooled, float[]? patches, int gridHeight, int gridWidth, IReadOnlyDictionary<int, float[]> layers)
    {
        Name = name;
        Pooled = pooled;
        Patches = patches;
        GridHeight = gridHeight;
        GridWidth = gridWidth;
        Layers = layers;
    }

    /// <summary>The input's name (file path, or the name given).</summary>
    public string Name { get; }

    /// <summary>Mean of the final patch embeddings: the image's feature vector, length <see cref="Dimension"/>.</summary>
    public float[] Pooled { get; }

    /// <summary>Final patch embeddings, row-major [GridHeight × GridWidth, Dimension]; null when not requested.</summary>
    public float[]? Patches { get; }

    /// <summary>Patch rows.</summary>
    public int GridHeight { get; }

    /// <summary>Patch columns.</summary>
    public int GridWidth { get; }

    /// <summary>
    /// The source image's width in pixels as its decoder read it, EXIF orientation applied (as Pillow's
    /// <c>ImageOps.exif_transpose</c> gives it), before resizing; null for pixels given as a tensor.
    /// </summary>
    public int? SourceWidth { get; internal init; }

    /// <summary>The source image's height in pixels; see <see cref="SourceWidth"/>.</summary>
    public int? SourceHeight { get; internal init; }

    /// <summary>Width of each vector.</summary>
    public int Dimension => Pooled.Length;

    /// <summary>Token means of the requested hidden states, by layer index (see <see cref="IJepaEncoderOptions.HiddenLayers"/>).</summary>
    public IReadOnlyDictionary<int, float[]> Layers { get; }

    /// <summary>The embedding of patch (row, column).</summary>
    public ReadOnlySpan<float> Patch(int row, int column)
    {
        if (Patches is null)
        {
            throw new InvalidOperationException("Patch embeddings were not kept (IJepaEncoderOptions.IncludePatches).");
        }
        ArgumentOutOfRangeException.ThrowIfNegative(row);
        ArgumentOutOfRangeException.ThrowIfNegative(column);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(row, GridHeight);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(column, GridWidth);
        return Patches.AsSpan(((row * GridWidth) + column) * Dimension, Dimension);
    }
}
