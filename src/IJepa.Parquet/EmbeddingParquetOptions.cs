namespace IJepa.Parquet;

/// <summary>The shape and provenance of a Parquet embedding file, the same for every row.</summary>
public sealed record EmbeddingParquetOptions
{
    /// <summary>Embedding width (1280 for ViT-H/14); <c>pooled</c> is a fixed-size list of this many float32.</summary>
    public required int Dimension { get; init; }

    /// <summary>Patch tokens per image, or 0 for no <c>patches</c> column (a fixed-size list of tokens, each a fixed-size list of <see cref="Dimension"/> float32).</summary>
    public int PatchTokens { get; init; }

    /// <summary>The model id written in every row's <c>model</c> column.</summary>
    public required string ModelId { get; init; }

    /// <summary>The model revision written in every row's <c>revision</c> column (a commit or a weights hash), or null.</summary>
    public string? Revision { get; init; }

    /// <summary>
    /// Rows kept in memory before they are written as one row group. Memory stays bounded by this, not by the
    /// number of rows in the file; larger groups read faster. Default 256.
    /// </summary>
    public int RowGroupRows { get; init; } = 256;
}
