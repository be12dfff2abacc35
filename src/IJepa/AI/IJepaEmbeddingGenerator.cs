using IJepa.Preprocessing;
using Microsoft.Extensions.AI;

namespace IJepa.AI;

/// <summary>
/// An <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/> over an <see cref="IJepaEncoder"/>: images
/// given as <see cref="DataContent"/> with an <c>image/*</c> media type become pooled I-JEPA embeddings.
/// </summary>
/// <remarks>
/// Each call returns one embedding per input, in input order, so an unusable image fails the whole
/// call with an <see cref="ImageDecodeException"/> naming it (the <see cref="DataContent.Name"/>, else
/// its position). Callers who want failures reported in place use <see cref="IJepaEncoder.EncodeAsync"/>.
/// <see cref="GetService"/> answers <see cref="EmbeddingGeneratorMetadata"/> (provider "ijepa", the model
/// id and the embedding dimension) and the underlying <see cref="IJepaEncoder"/>.
/// </remarks>
public sealed class IJepaEmbeddingGenerator : IEmbeddingGenerator<DataContent, Embedding<float>>
{
    private readonly IJepaEncoder _encoder;
    private readonly bool _ownsEncoder;
    private readonly EmbeddingGeneratorMetadata _metadata;

    /// <summary>Wraps an encoder.</summary>
    /// <param name="encoder">The encoder that computes the embeddings.</param>
    /// <param name="ownsEncoder">Whether disposing this generator disposes the encoder.</param>
    public IJepaEmbeddingGenerator(IJepaEncoder encoder, bool ownsEncoder = false)
    {
        ArgumentNullException.ThrowIfNull(encoder);
        _encoder = encoder;
        _ownsEncoder = ownsEncoder;
        _metadata = new EmbeddingGeneratorMetadata("ijepa", providerUri: null, defaultModelId: encoder.ModelId, defaultModelDimensions: encoder.Dimension);
    }

    /// <summary>Encodes each image; results are in input order.</summary>
    /// <exception cref="ArgumentException">An input is not an image (its media type is not <c>image/*</c>).</exception>
    /// <exception cref="NotSupportedException">Options ask for another dimension or another model.</exception>
    /// <exception cref="ImageDecodeException">An image cannot be decoded; the message names it.</exception>
    public async Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(
        IEnumerable<DataContent> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (options?.Dimensions is int dimensions && dimensions != _encoder.Dimension)
        {
            throw new NotSupportedException($"I-JEPA embeddings of {_encoder.ModelId} have {_encoder.Dimension} dimensions; {dimensions} were requested.");
        }
        if (options?.ModelId is string modelId && !string.Equals(modelId, _encoder.ModelId, StringComparison.Ordinal))
        {
            throw new NotSupportedException($"This generator runs model '{_encoder.ModelId}', not '{modelId}'.");
        }
        var inputs = new List<ImageInput>();
        foreach (DataContent content in values)
        {
            ArgumentNullException.ThrowIfNull(content, nameof(values));
            string name = content.Name ?? $"input {inputs.Count} ({content.MediaType})";
            if (!content.HasTopLevelMediaType("image"))
            {
                throw new ArgumentException($"{name}: media type '{content.MediaType}' is not an image/* type.", nameof(values));
            }
            inputs.Add(ImageInput.FromBytes(content.Data, name));
        }

        var embeddings = new GeneratedEmbeddings<Embedding<float>>(inputs.Count);
        await foreach (EncodeResult result in _encoder.EncodeAsync(inputs.ToAsyncEnumerable(), cancellationToken).ConfigureAwait(false))
        {
            if (result.Error is { } error)
            {
                throw error;
            }
            embeddings.Add(new Embedding<float>(result.Embedding!.Pooled)
            {
                ModelId = _encoder.ModelId,
                CreatedAt = DateTimeOffset.UtcNow,
            });
        }
        return embeddings;
    }

    /// <summary>Returns <see cref="EmbeddingGeneratorMetadata"/>, the <see cref="IJepaEncoder"/>, or this generator; otherwise null.</summary>
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null)
        {
            return null;
        }
        if (serviceType == typeof(EmbeddingGeneratorMetadata))
        {
            return _metadata;
        }
        if (serviceType == typeof(IJepaEncoder))
        {
            return _encoder;
        }
        return serviceType.IsInstanceOfType(this) ? this : null;
    }

    /// <summary>Disposes the encoder when this generator owns it.</summary>
    public void Dispose()
    {
        if (_ownsEncoder)
        {
            _encoder.Dispose();
        }
    }
}
