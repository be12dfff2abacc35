using IJepa.AI;
using IJepa.Preprocessing;
using Microsoft.Extensions.AI;

namespace IJepa.Tests;

/// <summary>The Microsoft.Extensions.AI embedding generator over the tiny reference model.</summary>
public class EmbeddingGeneratorTests
{
    private static string Model => TestData.Reference("ijepa_tiny_p14");

    private static string Image(string name) => Path.Combine(AppContext.BaseDirectory, "images", "input", name);

    [Fact]
    public async Task Images_as_DataContent_give_the_encoders_pooled_embeddings_in_order()
    {
        using IJepaEncoder encoder = IJepaEncoder.Load(Model, new IJepaEncoderOptions { BatchSize = 2 });
        using IEmbeddingGenerator<DataContent, Embedding<float>> generator = encoder.AsEmbeddingGenerator();
        string[] files = ["photo_flower.png", "small_17x23.png", "checker_97x61.png"];
        DataContent[] contents = files.Select(f => new DataContent(File.ReadAllBytes(Image(f)), "image/png") { Name = f }).ToArray();

        GeneratedEmbeddings<Embedding<float>> embeddings = await generator.GenerateAsync(contents);

        // Same batching as the generator, so the results are bitwise equal.
        IReadOnlyList<ImageEmbedding> expected = encoder.EncodeBatch(files.Select(f => ImageInput.FromFile(Image(f))));
        Assert.Equal(files.Length, embeddings.Count);
        for (int i = 0; i < files.Length; i++)
        {
            Assert.Equal(expected[i].Pooled, embeddings[i].Vector.ToArray());
            Assert.Equal("ijepa_tiny_p14", embeddings[i].ModelId);
        }
        ReadOnlyMemory<float> single = await generator.GenerateVectorAsync(contents[0]);
        Assert.Equal(encoder.Encode(Image(files[0])).Pooled, single.ToArray());
    }

    [Fact]
    public void Metadata_and_the_encoder_are_available_through_GetService()
    {
        using IJepaEncoder encoder = IJepaEncoder.Load(Model);
        using var generator = new IJepaEmbeddingGenerator(encoder);
        EmbeddingGeneratorMetadata metadata = generator.GetService<EmbeddingGeneratorMetadata>()!;
        Assert.Equal("ijepa", metadata.ProviderName);
        Assert.Equal("ijepa_tiny_p14", metadata.DefaultModelId);
        Assert.Equal(48, metadata.DefaultModelDimensions);
        Assert.Same(encoder, generator.GetService<IJepaEncoder>());
        Assert.Same(generator, generator.GetService<IEmbeddingGenerator<DataContent, Embedding<float>>>());
        Assert.Null(generator.GetService<string>());
        Assert.Null(generator.GetService<EmbeddingGeneratorMetadata>("some key"));
    }

    [Fact]
    public async Task Non_images_bad_images_and_unsupported_options_are_refused_clearly()
    {
        using IJepaEncoder encoder = IJepaEncoder.Load(Model);
        using var generator = new IJepaEmbeddingGenerator(encoder);
        var text = new DataContent("hello"u8.ToArray(), "text/plain") { Name = "note.txt" };
        var error = await Assert.ThrowsAsync<ArgumentException>(() => generator.GenerateAsync([text]));
        Assert.Contains("note.txt", error.Message, StringComparison.Ordinal);

        var broken = new DataContent(new byte[] { 0x89, 0x50, 0x4E, 0x47, 1, 2, 3 }, "image/png") { Name = "broken.png" };
        var good = new DataContent(File.ReadAllBytes(Image("photo_flower.png")), "image/png");
        var decode = await Assert.ThrowsAsync<ImageDecodeException>(() => generator.GenerateAsync([good, broken]));
        Assert.Contains("broken.png", decode.Message, StringComparison.Ordinal);

        await Assert.ThrowsAsync<NotSupportedException>(() => generator.GenerateAsync([good], new EmbeddingGenerationOptions { Dimensions = 16 }));
        await Assert.ThrowsAsync<NotSupportedException>(() => generator.GenerateAsync([good], new EmbeddingGenerationOptions { ModelId = "other" }));
        Assert.Single(await generator.GenerateAsync([good], new EmbeddingGenerationOptions { Dimensions = 48 }));
    }

    [Fact]
    public void Disposing_an_owning_generator_disposes_the_encoder()
    {
        IJepaEncoder encoder = IJepaEncoder.Load(Model);
        new IJepaEmbeddingGenerator(encoder, ownsEncoder: true).Dispose();
        Assert.Throws<ObjectDisposedException>(() => encoder.Encode(Image("photo_flower.png")));
    }
}
