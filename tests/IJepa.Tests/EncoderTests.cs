using IJepa.Preprocessing;
using TorchSharp;

namespace IJepa.Tests;

/// <summary>The IJepaEncoder API on the tiny reference model and the committed test images.</summary>
public class EncoderTests
{
    private static string Model => TestData.Reference("ijepa_tiny_p14");

    private static string Image(string name) => Path.Combine(AppContext.BaseDirectory, "images", "input", name);

    private static readonly string[] Files = ["photo_flower.png", "small_17x23.png", "checker_97x61.png", "palette_50x40.png", "rgba_60x45.png"];

    [Fact]
    public void Encode_gives_what_the_model_gives_on_the_preprocessed_pixels()
    {
        using IJepaEncoder encoder = IJepaEncoder.Load(Model, new IJepaEncoderOptions { HiddenLayers = [0, 4] });
        Assert.Equal(70, encoder.Preprocessor.Options.Height); // from the folder's preprocessor_config.json
        ImageEmbedding embedding = encoder.Encode(Image("photo_flower.png"));
        Assert.Equal(48, embedding.Dimension);
        Assert.Equal((5, 5), (embedding.GridHeight, embedding.GridWidth));
        Assert.Equal(25 * 48, embedding.Patches!.Length);

        float[] pixels = encoder.Preprocessor.Preprocess(ImageInput.FromFile(Image("photo_flower.png")));
        using Tensor input = tensor(pixels, [1, 3, 70, 70]);
        using IJepaModelOutput output = encoder.Model.Forward(input, new IJepaForwardOptions { OutputHiddenStates = true });
        Assert.Equal(output.Pooled[0].data<float>().ToArray(), embedding.Pooled);
        using Tensor firstPatch = output.LastHiddenState[0, 0];
        Assert.Equal(firstPatch.data<float>().ToArray(), embedding.Patch(0, 0).ToArray());
        using Tensor layer4 = output.HiddenStates![4].mean([1])[0];
        Assert.Equal(layer4.data<float>().ToArray(), embedding.Layers[4]);
    }

    [Fact]
    public void Batches_agree_with_single_images()
    {
        using IJepaEncoder encoder = IJepaEncoder.Load(Model, new IJepaEncoderOptions { BatchSize = 3 });
        IReadOnlyList<ImageEmbedding> batch = encoder.EncodeBatch(Files.Select(f => ImageInput.FromFile(Image(f))));
        Assert.Equal(Files.Length, batch.Count);
        for (int i = 0; i < Files.Length; i++)
        {
            ImageEmbedding single = encoder.Encode(Image(Files[i]));
            Assert.Equal(Image(Files[i]), batch[i].Name);
            Assert.True(EmbeddingMath.CosineSimilarity(single.Pooled, batch[i].Pooled) > 0.99999f);
        }
    }

    [Fact]
    public void One_encoder_shared_by_threads_gives_the_serial_results()
    {
        using IJepaEncoder encoder = IJepaEncoder.Load(Model, new IJepaEncoderOptions { BatchSize = 1 });
        float[][] serial = Files.Select(f => encoder.Encode(Image(f)).Pooled).ToArray();
        var results = new float[4 * 10][];
        Parallel.For(0, results.Length, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i =>
        {
            results[i] = encoder.Encode(Image(Files[i % Files.Length])).Pooled;
        });
        for (int i = 0; i < results.Length; i++)
        {
            Assert.Equal(serial[i % Files.Length], results[i]);
        }
    }

    [Fact]
    public async Task Streaming_keeps_input_order_and_reports_bad_images_in_place()
    {
        using IJepaEncoder encoder = IJepaEncoder.Load(Model, new IJepaEncoderOptions { BatchSize = 2 });
        ImageInput[] inputs =
        [
            ImageInput.FromFile(Image(Files[0])),
            ImageInput.FromBytes(Array.Empty<byte>(), "empty.png"),
            ImageInput.FromFile(Image(Files[1])),
            ImageInput.FromFile(Image(Files[2])),
            ImageInput.FromBytes(TestData.Utf8("not an image"), "text.jpg"),
        ];
        var results = new List<EncodeResult>();
        await foreach (EncodeResult result in encoder.EncodeAsync(inputs.ToAsyncEnumerable()))
        {
            results.Add(result);
        }
        Assert.Equal(inputs.Select(i => i.Name), results.Select(r => r.Input.Name));
        Assert.Equal([true, false, true, true, false], results.Select(r => r.Succeeded));
        Assert.Equal("empty.png", results[1].Error!.Source);
        // Batched with another image here, alone there: equal up to GEMM rounding.
        Assert.True(EmbeddingMath.CosineSimilarity(encoder.Encode(Image(Files[2])).Pooled, results[3].Embedding!.Pooled) > 0.99999f);
    }

    [Fact]
    public async Task Cancelling_a_stream_returns_promptly_and_leaves_the_encoder_usable()
    {
        using IJepaEncoder encoder = IJepaEncoder.Load(Model, new IJepaEncoderOptions { BatchSize = 2 });
        using var cancel = new CancellationTokenSource();
        int seen = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (EncodeResult result in encoder.EncodeAsync(Endless(), cancel.Token))
            {
                if (++seen == 5)
                {
                    await cancel.CancelAsync();
                }
            }
        });
        Assert.Equal(5, seen);
        Assert.Equal(48, encoder.Encode(Image(Files[0])).Dimension);

        static async IAsyncEnumerable<ImageInput> Endless()
        {
            for (int i = 0; ; i++)
            {
                await Task.Yield();
                yield return ImageInput.FromFile(Image(Files[i % Files.Length]));
            }
        }
    }

    [Fact]
    public void Repeated_encoding_leaves_no_live_tensors()
    {
        using IJepaEncoder encoder = IJepaEncoder.Load(Model, new IJepaEncoderOptions { HiddenLayers = [2] });
        encoder.EncodeBatch(Files.Select(f => ImageInput.FromFile(Image(f))));
        long baseline = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int i = 0; i < 20; i++)
        {
            encoder.EncodeBatch(Files.Select(f => ImageInput.FromFile(Image(f))));
        }
        Assert.Equal(baseline, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    [Fact]
    public void Bad_options_are_clear_errors()
    {
        Assert.Throws<ArgumentException>(() => IJepaEncoder.Load(Model, new IJepaEncoderOptions { HiddenLayers = [5] }).Dispose());
        Assert.Throws<ArgumentException>(() => IJepaEncoder.Load(Model, new IJepaEncoderOptions { Device = "tpu" }).Dispose());
        Assert.Throws<IJepaCheckpointException>(() => IJepaEncoder.Load("/nonexistent").Dispose());
    }

    [Fact]
    public void Cosine_and_normalization_helpers()
    {
        float[] a = [3, 4];
        Assert.Equal(1f, EmbeddingMath.CosineSimilarity(a, [6, 8]), 6);
        Assert.Equal([0.6f, 0.8f], EmbeddingMath.Normalize(a));
    }
}
