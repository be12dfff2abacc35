using System.Numerics.Tensors;

namespace IJepa;

/// <summary>Vector helpers for embeddings (SIMD through System.Numerics.Tensors).</summary>
public static class EmbeddingMath
{
    /// <summary>Cosine similarity of two vectors of equal length.</summary>
    public static float CosineSimilarity(ReadOnlySpan<float> a, ReadOnlySpan<float> b) => TensorPrimitives.CosineSimilarity(a, b);

    /// <summary>Scales <paramref name="vector"/> to unit L2 norm in place (a zero vector stays zero).</summary>
    public static void NormalizeInPlace(Span<float> vector)
    {
        float norm = TensorPrimitives.Norm(vector);
        if (norm > 0)
        {
            TensorPrimitives.Divide(vector, norm, vector);
        }
    }

    /// <summary>A unit-L2-norm copy of <paramref name="vector"/>.</summary>
    public static float[] Normalize(ReadOnlySpan<float> vector)
    {
        float[] copy = vector.ToArray();
        NormalizeInPlace(copy);
        return copy;
    }
}
