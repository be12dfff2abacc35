using System.Runtime.CompilerServices;
using IJepa.Checkpoints;
using IJepa.Hub;
using IJepa.Model;
using IJepa.Pipeline;
using IJepa.Preprocessing;
using SixLabors.ImageSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace IJepa;

/// <summary>
/// Turns images into I-JEPA embeddings: loads a Hugging Face I-JEPA folder, preprocesses images the
/// way transformers does, and returns pooled and patch embeddings as plain arrays. Thread-safe: one
/// encoder may be shared by many threads (forward passes take turns; preprocessing runs in parallel).
/// </summary>
public sealed class IJepaEncoder : IDisposable
{
    private readonly object _forwardLock = new();
    private readonly IJepaForwardOptions _forwardOptions;
    private bool _disposed;

    private IJepaEncoder(IJepaModel model, ImagePreprocessor preprocessor, IJepaEncoderOptions options, string modelId)
    {
        Model = model;
        Preprocessor = preprocessor;
        Options = options;
        ModelId = modelId;
        bool otherSize = preprocessor.Options.Height != model.Config.ImageSize || preprocessor.Options.Width != model.Config.ImageSize;
        _forwardOptions = new IJepaForwardOptions { OutputHiddenStates = options.HiddenLayers.Count > 0, InterpolatePosEncoding = otherSize };
    }

    /// <summary>The underlying TorchSharp model (advanced use).</summary>
    public IJepaModel Model { get; }

    /// <summary>The image preprocessing in use.</summary>
    public ImagePreprocessor Preprocessor { get; }

    /// <summary>The options the encoder was loaded with.</summary>
    public IJepaEncoderOptions Options { get; }

    /// <summary>The model id: the hub id when loaded from the hub, else the model folder's name.</summary>
    public string ModelId { get; }

    /// <summary>Length of the pooled embedding.</summary>
    public int Dimension => Model.Config.HiddenSize;

    /// <summary>
    /// Loads a Hugging Face I-JEPA folder (config.json, model.safetensors or shards, preprocessor_config.json),
    /// or, when no such folder exists, a hub model id (<c>facebook/ijepa_vith14_1k</c>, optionally
    /// <c>@revision</c>) fetched into the cache Python shares (see <see cref="HuggingFaceHub"/>).
    /// </summary>
    /// <param name="modelDirectory">A model folder, or a hub model id.</param>
    /// <param name="options">Device, dtype, preprocessing, hub settings; null: the defaults.</param>
    /// <exception cref="IJepaCheckpointException">The folder or its files are unusable.</exception>
    /// <exception cref="HubException">A hub id could not be fetched (not found, no access, offline and not cached, ...); the message says what to do.</exception>
    /// <exception cref="ArgumentException">The options are invalid (unknown device name, bad layer index, ...).</exception>
    /// <exception cref="IJepaRuntimeException">The device cannot be used here (no CUDA libtorch, no GPU); the message says why.</exception>
    public static IJepaEncoder Load(string modelDirectory, IJepaEncoderOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelDirectory);
        (string folder, string? hubId) = ModelSource.Resolve(modelDirectory, options?.Hub);
        return LoadFolder(folder, hubId, options);
    }

    /// <summary>
    /// As <see cref="Load"/>, with the download of a hub model asynchronous and cancellable (what was
    /// downloaded is kept and resumed by the next call).
    /// </summary>
    /// <param name="modelDirectory">A model folder, or a hub model id.</param>
    /// <param name="options">Device, dtype, preprocessing, hub settings; null: the defaults.</param>
    /// <param name="cancellationToken">Stops the download.</param>
    /// <exception cref="IJepaCheckpointException">The folder or its files are unusable.</exception>
    /// <exception cref="HubException">A hub id could not be fetched; the message says what to do.</exception>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    public static async Task<IJepaEncoder> LoadAsync(string modelDirectory, IJepaEncoderOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelDirectory);
        (string folder, string? hubId) = await ModelSource.ResolveAsync(modelDirectory, options?.Hub, cancellationToken).ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();
        return LoadFolder(folder, hubId, options);
    }

    private static IJepaEncoder LoadFolder(string modelDirectory, string? hubId, IJepaEncoderOptions? options)
    {
        options ??= new IJepaEncoderOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(options.BatchSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.PrefetchBatches, 1);
        if (options.Workers is int workers)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(workers, 1);
        }
        Device device = IJepaRuntime.ResolveDevice(options.Device);
        if (options.Threads is int threads)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
            set_num_threads(threads);
        }
        ScalarType dtype = options.DType switch
        {
            ComputeDType.Float32 => ScalarType.Float32,
            ComputeDType.BFloat16 => ScalarType.BFloat16,
            ComputeDType.Float16 => ScalarType.Float16,
            _ => throw new ArgumentOutOfRangeException(nameof(options), options.DType, "unknown dtype"),
        };

        if (options.ExpectedSha256 is { Count: > 0 } digests)
        {
            CheckpointIntegrity.VerifyFolder(modelDirectory, digests);
        }
        IJepaModel model = IJepaModel.FromPretrained(modelDirectory, dtype, device);
        try
        {
            model.PackWeightsForInference();
            foreach (int layer in options.HiddenLayers)
            {
                if (layer < 0 || layer > model.Config.NumHiddenLayers)
                {
                    throw new ArgumentException($"Hidden layer {layer} is outside 0..{model.Config.NumHiddenLayers}.", nameof(options));
                }
            }
            PreprocessingOptions preprocessing = options.Preprocessing ?? DefaultPreprocessing(modelDirectory, model.Config);
            if (options.Decoding is ImageDecoding decoding)
            {
                preprocessing = preprocessing with { Decoding = decoding };
            }
            if (options.Backend is PreprocessingBackend backend)
            {
                preprocessing = preprocessing with { Backend = backend };
            }
            var preprocessor = new ImagePreprocessor(preprocessing);
            string id = hubId ?? Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(modelDirectory)));
            return new IJepaEncoder(model, preprocessor, options, id);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    private static PreprocessingOptions DefaultPreprocessing(string modelDirectory, IJepaConfig config)
    {
        string path = Path.Combine(modelDirectory, "preprocessor_config.json");
        return File.Exists(path)
            ? PreprocessingOptions.FromHuggingFaceConfig(path)
            : PreprocessingOptions.HuggingFaceDefault with { Height = config.ImageSize, Width = config.ImageSize };
    }

    /// <summary>Encodes one image.</summary>
    /// <exception cref="ImageDecodeException">The image is unusable.</exception>
    public ImageEmbedding Encode(ImageInput input) => EncodeBatch([input])[0];

    /// <summary>Encodes an image file.</summary>
    public ImageEmbedding Encode(string path) => Encode(ImageInput.FromFile(path));

    /// <summary>Encodes encoded image bytes.</summary>
    public ImageEmbedding Encode(byte[] bytes, string? name = null) => Encode(ImageInput.FromBytes(bytes, name));

    /// <summary>Encodes an image read from a stream (from its current position; the caller keeps the stream).</summary>
    public ImageEmbedding Encode(Stream stream, string? name = null) => Encode(ImageInput.FromStream(stream, name));

    /// <summary>Encodes an ImageSharp image.</summary>
    public ImageEmbedding Encode(Image image, string? name = null) => Encode(ImageInput.FromImage(image, name));

    /// <summary>
    /// Encodes already-normalized pixels [B, C, H, W] (any size when it differs from the model's:
    /// positions are then interpolated). Results are named "0", "1", ….
    /// </summary>
    public IReadOnlyList<ImageEmbedding> Encode(Tensor pixels)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        if (pixels.dim() != 4)
        {
            throw new ArgumentException($"Pixel values must be [batch, channels, height, width]; got [{string.Join(",", pixels.shape)}].", nameof(pixels));
        }
        bool otherSize = pixels.shape[2] != Model.Config.ImageSize || pixels.shape[3] != Model.Config.ImageSize;
        string[] names = Enumerable.Range(0, (int)pixels.shape[0]).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        return Forward(pixels, names, null, _forwardOptions with { InterpolatePosEncoding = otherSize });
    }

    /// <summary>Encodes images in batches of <see cref="IJepaEncoderOptions.BatchSize"/>, in order.</summary>
    /// <exception cref="ImageDecodeException">An image is unusable (use <see cref="EncodeAsync"/> to skip such images).</exception>
    public IReadOnlyList<ImageEmbedding> EncodeBatch(IEnumerable<ImageInput> inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var results = new List<ImageEmbedding>();
        foreach (ImageInput[] chunk in inputs.Chunk(Options.BatchSize))
        {
            using PreprocessedBatch batch = Preprocessor.PreprocessBatch(chunk);
            results.AddRange(Forward(batch.Pixels!, chunk.Select(i => i.Name).ToArray(), batch.SourceSizes, _forwardOptions));
        }
        return results;
    }

    /// <summary>
    /// Streams results in input order. <see cref="IJepaEncoderOptions.Workers"/> threads decode and preprocess
    /// images while the model encodes, up to <see cref="IJepaEncoderOptions.PrefetchBatches"/> batches ahead, so
    /// memory stays bounded however long the stream. A bad image yields a failed <see cref="EncodeResult"/> in
    /// its place; the others go on.
    /// </summary>
    public async IAsyncEnumerable<EncodeResult> EncodeAsync(IAsyncEnumerable<ImageInput> inputs, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ObjectDisposedException.ThrowIf(_disposed, this);
        var pipeline = new BatchPipeline(Preprocessor, Options.BatchSize, Options.Workers ?? Environment.ProcessorCount, Options.PrefetchBatches,
            pinned: Model.Device.type == DeviceType.CUDA);
        await foreach ((IReadOnlyList<ImageInput> batchInputs, PreprocessedBatch batch) in pipeline.RunAsync(inputs, cancellationToken).ConfigureAwait(false))
        {
            List<EncodeResult> results;
            using (batch)
            {
                results = Merge(batchInputs, batch);
            }
            foreach (EncodeResult result in results)
            {
                yield return result;
                // Cancellation takes effect at the next result, not at the end of the batch.
                cancellationToken.ThrowIfCancellationRequested();
            }
        }
    }

    private List<EncodeResult> Merge(IReadOnlyList<ImageInput> inputs, PreprocessedBatch batch)
    {
        IReadOnlyList<ImageEmbedding> embeddings = batch.Pixels is null
            ? []
            : Forward(batch.Pixels, batch.Inputs.Select(i => i.Name).ToArray(), batch.SourceSizes, _forwardOptions);
        var results = new List<EncodeResult>(inputs.Count);
        int success = 0, failure = 0;
        foreach (ImageInput input in inputs)
        {
            if (failure < batch.Failures.Count && ReferenceEquals(batch.Failures[failure].Input, input))
            {
                results.Add(new EncodeResult(input, null, batch.Failures[failure++].Error));
            }
            else
            {
                results.Add(new EncodeResult(input, embeddings[success++], null));
            }
        }
        return results;
    }

    // sourceSizes: each row's source image size; null for pixels given as a tensor.
    private ImageEmbedding[] Forward(Tensor pixels, string[] names, IReadOnlyList<(int Width, int Height)>? sourceSizes, IJepaForwardOptions forwardOptions)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        lock (_forwardLock)
        {
            using var scope = NewDisposeScope();
            using IJepaModelOutput output = Model.Forward(pixels, forwardOptions);
            Tensor pooled = output.Pooled.to(ScalarType.Float32).cpu().contiguous();
            Tensor? patches = Options.IncludePatches ? output.LastHiddenState.to(ScalarType.Float32).cpu().contiguous() : null;
            var layerMeans = new Dictionary<int, Tensor>();
            foreach (int layer in Options.HiddenLayers)
            {
                layerMeans[layer] = output.HiddenStates![layer].mean([1]).to(ScalarType.Float32).cpu().contiguous();
            }
            int tokens = (int)output.LastHiddenState.shape[1];
            int gridHeight = (int)(pixels.shape[2] / Model.Config.PatchSize);
            int gridWidth = tokens / Math.Max(gridHeight, 1);
            var results = new ImageEmbedding[names.Length];
            for (int b = 0; b < names.Length; b++)
            {
                var layers = new Dictionary<int, float[]>();
                foreach ((int layer, Tensor mean) in layerMeans)
                {
                    layers[layer] = Row(mean, b);
                }
                results[b] = new ImageEmbedding(names[b], Row(pooled, b), patches is null ? null : Row(patches, b), gridHeight, gridWidth, layers)
                {
                    SourceWidth = sourceSizes?[b].Width,
                    SourceHeight = sourceSizes?[b].Height,
                };
            }
            return results;
        }
    }

    private static float[] Row(Tensor t, int index)
    {
        using Tensor row = t[index];
        return row.data<float>().ToArray();
    }

    /// <summary>
    /// This encoder as a Microsoft.Extensions.AI <see cref="Microsoft.Extensions.AI.IEmbeddingGenerator{TInput, TEmbedding}"/>
    /// of images (<see cref="Microsoft.Extensions.AI.DataContent"/>, image/*) to pooled embeddings. The generator
    /// does not own the encoder unless <paramref name="ownsEncoder"/> is true.
    /// </summary>
    public AI.IJepaEmbeddingGenerator AsEmbeddingGenerator(bool ownsEncoder = false) => new(this, ownsEncoder);

    /// <inheritdoc />
    public void Dispose()
    {
        lock (_forwardLock)
        {
            if (!_disposed)
            {
                _disposed = true;
                Model.Dispose();
            }
        }
    }
}
