namespace IJepa.Parquet;

/// <summary>One image's row in a Parquet output.</summary>
/// <param name="Path">The image's path relative to its input folder, with '/' separators (the sharding key too).</param>
/// <param name="Size">The file's length in bytes.</param>
/// <param name="Sha256">The file's SHA-256, 64 lowercase hex digits.</param>
/// <param name="Width">The source image width in pixels (EXIF orientation applied, as ImageEmbedding.SourceWidth), or null when unknown.</param>
/// <param name="Height">The source image height in pixels, or null when unknown.</param>
/// <param name="Pooled">The pooled embedding; its length is the writer's dimension.</param>
/// <param name="Patches">Patch embeddings, tokens × dimension row-major, when the writer has patches.</param>
public sealed record EmbeddingRecord(string Path, long Size, string Sha256, int? Width, int? Height, float[] Pooled, float[]? Patches = null);
