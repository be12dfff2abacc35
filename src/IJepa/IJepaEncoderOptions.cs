using IJepa.Hub;
using IJepa.Preprocessing;

namespace IJepa;

/// <summary>How <see cref="IJepaEncoder.Load"/> sets the encoder up.</summary>
public sealed record IJepaEncoderOptions
{
    /// <summary>"cpu" (default), "cuda" or "cuda:N". CUDA needs the TorchSharp CUDA package (see README).</summary>
    public string Device { get; init; } = "cpu";

    /// <summary>Compute precision (default float32).</summary>
    public ComputeDType DType { get; init; } = ComputeDType.Float32;

    /// <summary>libtorch intra-op threads; null leaves libtorch's default (one per core).</summary>
    public int? Threads { get; init; }

    /// <summary>Images per forward pass in batch and streaming calls (default 8).</summary>
    public int BatchSize { get; init; } = 8;

    /// <summary>
    /// Threads that decode and preprocess images in <see cref="IJepaEncoder.EncodeAsync"/>; null (default) uses one
    /// per core. On a GPU these keep the model fed; on the CPU they share the cores with libtorch's threads.
    /// </summary>
    public int? Workers { get; init; }

    /// <summary>
    /// Batches that <see cref="IJepaEncoder.EncodeAsync"/> prepares ahead of the one being encoded (default 2).
    /// Host memory for pixels is (PrefetchBatches + 1) × BatchSize × 3 × height × width × 4 bytes
    /// (ViT-H at 224 px, batch 64: 3 × 38.5 MB), page-locked when the model is on a GPU.
    /// </summary>
    public int PrefetchBatches { get; init; } = 2;

    /// <summary>
    /// Preprocessing; null reads the model folder's preprocessor_config.json (the Hugging Face
    /// pipeline), or uses <see cref="PreprocessingOptions.HuggingFaceDefault"/> sized to the model.
    /// </summary>
    public PreprocessingOptions? Preprocessing { get; init; }

    /// <summary>
    /// Replaces the backend of <see cref="Preprocessing"/> (or of the preset read from the model folder) when set:
    /// <see cref="PreprocessingBackend.Pil"/> reproduces <c>ViTImageProcessorPil</c> instead of transformers 5's default.
    /// </summary>
    public PreprocessingBackend? Backend { get; init; }

    /// <summary>
    /// Replaces the decoding of <see cref="Preprocessing"/> (or of the preset read from the model folder) when set;
    /// <see cref="ImageDecoding.NativeReduced"/> is the fast, not bit-exact decode of large JPEGs.
    /// </summary>
    public ImageDecoding? Decoding { get; init; }

    /// <summary>
    /// Hidden states to return with each embedding, as token means: 0 is the embeddings output, k the
    /// output of block k (before the final LayerNorm). Empty by default.
    /// </summary>
    public IReadOnlyList<int> HiddenLayers { get; init; } = [];

    /// <summary>Keep the per-patch embeddings in results (default true).</summary>
    public bool IncludePatches { get; init; } = true;

    /// <summary>
    /// Optional SHA-256 digests of the folder's files (file name → 64 hex digits, as the Hugging Face hub lists
    /// them), checked before loading; a mismatch is an <see cref="Checkpoints.IJepaCheckpointException"/>.
    /// </summary>
    public IReadOnlyDictionary<string, string>? ExpectedSha256 { get; init; }

    /// <summary>
    /// How a hub model id given to <see cref="IJepaEncoder.Load(string, IJepaEncoderOptions?)"/> is fetched
    /// (endpoint, token, cache, offline, progress). Null: from the environment, as huggingface_hub does.
    /// </summary>
    public HubOptions? Hub { get; init; }
}
