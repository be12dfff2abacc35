namespace IJepa.Masking;

/// <summary>
/// What the predictor made of one image: for each target block, the predicted and the actual
/// representation of every hidden patch, and their cosine similarity.
/// </summary>
public sealed class JepaPrediction
{
    internal JepaPrediction(MaskSet masks, int dimension, float[] predicted, float[] actual)
    {
        Masks = masks;
        Dimension = dimension;
        Predicted = predicted;
        Actual = actual;
        int targets = masks.Targets.Count, tokens = masks.Targets[0].Count;
        Cosine = new float[targets * tokens];
        for (int i = 0; i < Cosine.Length; i++)
        {
            Cosine[i] = EmbeddingMath.CosineSimilarity(predicted.AsSpan(i * dimension, dimension), actual.AsSpan(i * dimension, dimension));
        }
    }

    /// <summary>The masks used.</summary>
    public MaskSet Masks { get; }

    /// <summary>Target blocks (M).</summary>
    public int Targets => Masks.Targets.Count;

    /// <summary>Patches per target block (K).</summary>
    public int TokensPerTarget => Masks.Targets[0].Count;

    /// <summary>Representation width (D).</summary>
    public int Dimension { get; }

    /// <summary>Predicted representations, [M, K, D] row-major.</summary>
    public float[] Predicted { get; }

    /// <summary>The target encoder's layer-normed representations at the same patches, [M, K, D].</summary>
    public float[] Actual { get; }

    /// <summary>Cosine similarity of predicted and actual per hidden patch, [M, K].</summary>
    public float[] Cosine { get; }

    /// <summary>The mean of <see cref="Cosine"/>.</summary>
    public float MeanCosine => Cosine.Average();
}
