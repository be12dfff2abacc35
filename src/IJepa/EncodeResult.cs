using IJepa.Preprocessing;

namespace IJepa;

/// <summary>One input's outcome in <see cref="IJepaEncoder.EncodeAsync"/>: an embedding, or the reason there is none.</summary>
/// <param name="Input">The image.</param>
/// <param name="Embedding">Its embedding; null when it failed.</param>
/// <param name="Error">Why it failed (naming the image); null when it succeeded.</param>
public sealed record EncodeResult(ImageInput Input, ImageEmbedding? Embedding, ImageDecodeException? Error)
{
    /// <summary>True when <see cref="Embedding"/> is set.</summary>
    public bool Succeeded => Embedding is not null;
}
