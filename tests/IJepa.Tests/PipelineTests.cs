using System.Diagnostics;
using IJepa.Preprocessing;

namespace IJepa.Tests;

/// <summary>
/// The streaming pipeline behind <see cref="IJepaEncoder.EncodeAsync"/>: input order and failures in place for
/// any worker, prefetch and batch count; bounded read-ahead; every buffer released however the stream ends.
/// And the reduced (fast) JPEG decode.
/// </summary>
[Collection(nameof(ProcessWide))]
public class PipelineTests
{
    private static string Model => TestData.Reference("ijepa_tiny_p14");

    private static string Image(string name) => Path.Combine(AppContext.BaseDirectory, "images", "input", name);

    private static readonly string[] Good = ["photo_flower.png", "photo_ladybird.jpg", "checker_97x61.png", "small_17x23.png", "rgba_60x45.png", "palette_50x40.png"];

    /// <summary>23 inputs: good images and, at positions 2, 9, 10 and 22, broken ones.</summary>
    private static List<ImageInput> Mixed()
    {
        var inputs = new List<ImageInput>();
        for (int i = 0; i < 23; i++)
        {
            inputs.Add(i is 2 or 9 or 10 or 22
                ? ImageInput.FromBytes(new byte[] { 0xFF, 0xD8, 0xFF, 0xE0, 0, 16 }, $"broken {i}")
                : ImageInput.FromFile(Image(Good[i % Good.Length])));
        }
        return inputs;
    }

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(1, 1, 4)]
    [InlineData(3, 1, 8)]
    [InlineData(2, 2, 5)]
    [InlineData(4, 3, 3)]
    public async Task Results_keep_input_order_with_failures_in_place(int workers, int prefetch, int batch)
    {
        List<ImageInput> inputs = Mixed();
        using IJepaEncoder encoder = IJepaEncoder.Load(Model, new IJepaEncoderOptions { Workers = workers, PrefetchBatches = prefetch, BatchSize = batch });
        var results = new List<EncodeResult>();
        await foreach (EncodeResult result in encoder.EncodeAsync(inputs.ToAsyncEnumerable()))
        {
            results.Add(result);
        }
        Assert.Equal(inputs.Select(i => i.Name), results.Select(r => r.Input.Name));
        for (int i = 0; i < inputs.Count; i++)
        {
            bool broken = i is 2 or 9 or 10 or 22;
            Assert.Equal(!broken, results[i].Succeeded);
            if (broken)
            {
                Assert.Contains($"broken {i}", results[i].Error!.Message, StringComparison.Ordinal);
                continue;
            }
            // Against the image encoded alone (a forward pass of one).
            float[] alone = encoder.Encode(inputs[i]).Pooled.ToArray();
            float[] streamed = results[i].Embedding!.Pooled.ToArray();
            Assert.True(EmbeddingMath.CosineSimilarity(alone, streamed) > 0.99999, $"input {i}");
            Assert.True(alone.Zip(streamed).Max(p => Math.Abs(p.First - p.Second)) <= 1e-5 * alone.Max(Math.Abs), $"input {i}");
        }
    }

    [Fact]
    public async Task Read_ahead_stops_at_the_prefetched_batches()
    {
        const int batch = 4, prefetch = 2;
        using IJepaEncoder encoder = IJepaEncoder.Load(Model, new IJepaEncoderOptions { Workers = 2, PrefetchBatches = prefetch, BatchSize = batch });
        int pulled = 0;
        async IAsyncEnumerable<ImageInput> Endless()
        {
            for (int i = 0; ; i++)
            {
                await Task.Yield();
                Interlocked.Increment(ref pulled);
                yield return ImageInput.FromFile(Image(Good[i % Good.Length]));
            }
        }
        // The batch held by the consumer, the prefetched ones, and one input read before the next buffer is free.
        const int full = (prefetch + 1) * batch;
        await foreach (EncodeResult result in encoder.EncodeAsync(Endless()))
        {
            Assert.True(result.Succeeded);
            // The consumer stalls on its first result: the pipeline must fill its buffers and then wait. Filling is
            // waited for (a fixed 1.5 s could run out on a loaded machine), then reading past it is given time.
            var filling = Stopwatch.StartNew();
            while (Volatile.Read(ref pulled) < full && filling.Elapsed < TimeSpan.FromSeconds(30))
            {
                await Task.Delay(20);
            }
            await Task.Delay(1000);
            break;
        }
        Assert.InRange(Volatile.Read(ref pulled), full, full + 1);
    }

    [Fact]
    public async Task Every_buffer_is_released_after_a_full_stream_an_early_break_and_a_cancellation()
    {
        using IJepaEncoder encoder = IJepaEncoder.Load(Model, new IJepaEncoderOptions { Workers = 2, PrefetchBatches = 2, BatchSize = 3 });
        await Stream(encoder, 7, breakAfter: null, CancellationToken.None); // warm-up
        long baseline = LiveTensors();

        Assert.Equal(40, await Stream(encoder, 40, breakAfter: null, CancellationToken.None));
        Assert.Equal(baseline, LiveTensors());

        Assert.Equal(5, await Stream(encoder, 40, breakAfter: 5, CancellationToken.None));
        Assert.Equal(baseline, LiveTensors());

        using var cancel = new CancellationTokenSource();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Stream(encoder, 1000, breakAfter: null, cancel.Token, cancelAfter: (7, cancel)));
        Assert.Equal(baseline, LiveTensors());

        // And the encoder still works.
        Assert.Equal(4, await Stream(encoder, 4, breakAfter: null, CancellationToken.None));
    }

    [Fact]
    public void Worker_and_prefetch_counts_must_be_positive()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => IJepaEncoder.Load(Model, new IJepaEncoderOptions { Workers = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => IJepaEncoder.Load(Model, new IJepaEncoderOptions { PrefetchBatches = 0 }));
    }

    [Fact]
    public void Fast_decode_reduces_a_large_jpeg_in_the_dct_domain_and_stays_close_to_exact()
    {
        var exact = new ImagePreprocessor(PreprocessingOptions.HuggingFaceDefault);
        var fast = new ImagePreprocessor(PreprocessingOptions.HuggingFaceDefault with { Decoding = ImageDecoding.NativeReduced });
        ImageInput photo = ImageInput.FromFile(Image("photo_flower_1024x768.jpg"));

        // 1024x768 for a 224 output with gap 2: the smallest k/8 scale keeping both sides >= 448 is 5/8.
        RgbImage decoded = photo.Decode(fast.Options.MaxPixels, fast.Options.Decoding, fast.Options.ReduceTo);
        Assert.Equal((640, 480), (decoded.Width, decoded.Height));
        decoded.Release();
        RgbImage smaller = photo.Decode(fast.Options.MaxPixels, ImageDecoding.NativeReduced, reduceTo: 90);
        Assert.Equal((128, 96), (smaller.Width, smaller.Height)); // 1/8, the smallest libjpeg scale
        smaller.Release();

        float[] exactPixels = exact.Preprocess(photo), fastPixels = fast.Preprocess(photo);
        Assert.NotEqual(exactPixels, fastPixels);
        double maxLevels = exactPixels.Zip(fastPixels).Max(p => Math.Abs(p.First - p.Second)) * 255 / 2; // mean = std = 0.5
        Assert.True(maxLevels < 48, $"max difference {maxLevels} levels");

        using IJepaEncoder exactEncoder = IJepaEncoder.Load(Model);
        using IJepaEncoder fastEncoder = IJepaEncoder.Load(Model, new IJepaEncoderOptions { Decoding = ImageDecoding.NativeReduced });
        Assert.Equal(ImageDecoding.NativeReduced, fastEncoder.Preprocessor.Options.Decoding);
        double cosine = EmbeddingMath.CosineSimilarity(exactEncoder.Encode(photo).Pooled, fastEncoder.Encode(photo).Pooled);
        Assert.True(cosine >= 0.999, $"pooled cosine {cosine}");
    }

    [Theory]
    [InlineData("photo_ladybird.jpg")] // 640x400: too small to reduce for a 224 output
    [InlineData("photo_flower.png")] // not a JPEG
    [InlineData("exif_orientation_6.jpg")]
    public void Fast_decode_leaves_what_it_cannot_reduce_bit_exact(string name)
    {
        var exact = new ImagePreprocessor(PreprocessingOptions.HuggingFaceDefault);
        var fast = new ImagePreprocessor(PreprocessingOptions.HuggingFaceDefault with { Decoding = ImageDecoding.NativeReduced });
        Assert.Equal(exact.Preprocess(ImageInput.FromFile(Image(name))), fast.Preprocess(ImageInput.FromFile(Image(name))));
    }

    [Fact]
    public void Reduced_decode_gap_is_validated()
    {
        Assert.NotEmpty((PreprocessingOptions.HuggingFaceDefault with { ReducedDecodeGap = 0.5 }).Validate());
        Assert.NotEmpty((PreprocessingOptions.HuggingFaceDefault with { ReducedDecodeGap = double.NaN }).Validate());
        Assert.Empty((PreprocessingOptions.HuggingFaceDefault with { ReducedDecodeGap = 1 }).Validate());
    }

    /// <summary>
    /// Each embedding carries its source image's size as the decoder read it, EXIF orientation applied: Pillow's
    /// <c>exif_transpose(open(f)).convert("RGB")</c> images (the *__decoded.png references) give the expected sizes,
    /// by the batch path and by the streaming path alike; a reduced JPEG decode reports the full size.
    /// </summary>
    [Fact]
    public async Task Embeddings_carry_the_oriented_source_size_the_decoder_read()
    {
        string expected = Path.Combine(AppContext.BaseDirectory, "images", "expected");
        var cases = Directory.GetFiles(expected, "*__decoded.png").Select(f => Path.GetFileName(f)[..^"__decoded.png".Length])
            .Where(n => File.Exists(Image(n))).Order(StringComparer.Ordinal).ToList();
        Assert.Contains("exif_orientation_6.jpg", cases);
        Assert.True(cases.Count >= 15, $"{cases.Count} cases");
        using IJepaEncoder encoder = IJepaEncoder.Load(Model, new IJepaEncoderOptions { BatchSize = 4, Workers = 2 });
        IReadOnlyList<ImageEmbedding> batched = encoder.EncodeBatch(cases.Select(n => ImageInput.FromFile(Image(n))));
        var streamed = new List<ImageEmbedding>();
        await foreach (EncodeResult result in encoder.EncodeAsync(cases.Select(n => ImageInput.FromFile(Image(n))).ToAsyncEnumerable()))
        {
            streamed.Add(result.Embedding!);
        }
        for (int i = 0; i < cases.Count; i++)
        {
            (int width, int height) = PngSize(Path.Combine(expected, cases[i] + "__decoded.png"));
            Assert.True((width, height) == (batched[i].SourceWidth, batched[i].SourceHeight), $"{cases[i]}: {width}x{height} vs {batched[i].SourceWidth}x{batched[i].SourceHeight}");
            Assert.True((width, height) == (streamed[i].SourceWidth, streamed[i].SourceHeight), $"{cases[i]} streamed");
        }

        // A reduced decode (1024x768 decoded at half size for a 224 output) reports the source's size, turned by
        // orientation 6 when the file says so; pixels given as a tensor have no source.
        byte[] photo = File.ReadAllBytes(Image("photo_flower_1024x768.jpg"));
        using IJepaEncoder fast = IJepaEncoder.Load(Model, new IJepaEncoderOptions { Decoding = ImageDecoding.NativeReduced });
        ImageEmbedding straight = fast.Encode(photo, "straight");
        Assert.Equal((1024, 768), (straight.SourceWidth, straight.SourceHeight));
        ImageEmbedding turned = fast.Encode(WithOrientation(photo, 6), "turned");
        Assert.Equal((768, 1024), (turned.SourceWidth, turned.SourceHeight));
        ImageEmbedding full = encoder.Encode(WithOrientation(photo, 6));
        Assert.Equal((768, 1024), (full.SourceWidth, full.SourceHeight));
        using TorchSharp.torch.Tensor pixels = TorchSharp.torch.zeros(1, 3, 70, 70);
        ImageEmbedding fromPixels = encoder.Encode(pixels)[0];
        Assert.Null(fromPixels.SourceWidth);
        Assert.Null(fromPixels.SourceHeight);
    }

    private static (int Width, int Height) PngSize(string path)
    {
        byte[] head = File.ReadAllBytes(path)[16..24]; // IHDR's width and height, big-endian
        return (System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(head), System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(head.AsSpan(4)));
    }

    /// <summary>The JPEG with an APP1 Exif segment right after SOI whose one IFD entry is Orientation = <paramref name="orientation"/>.</summary>
    private static byte[] WithOrientation(byte[] jpeg, ushort orientation)
    {
        byte[] tiff =
        [
            (byte)'M', (byte)'M', 0, 42, 0, 0, 0, 8, // big-endian TIFF header, IFD at 8
            0, 1, // one entry
            0x01, 0x12, 0, 3, 0, 0, 0, 1, (byte)(orientation >> 8), (byte)orientation, 0, 0, // Orientation, SHORT, 1 value
            0, 0, 0, 0, // no next IFD
        ];
        byte[] app1 = [0xFF, 0xE1, 0, (byte)(2 + 6 + tiff.Length), (byte)'E', (byte)'x', (byte)'i', (byte)'f', 0, 0, .. tiff];
        return [.. jpeg[..2], .. app1, .. jpeg[2..]];
    }

    private static async Task<int> Stream(IJepaEncoder encoder, int count, int? breakAfter, CancellationToken token, (int After, CancellationTokenSource Source)? cancelAfter = null)
    {
        int encoded = 0;
        var inputs = Enumerable.Range(0, count).Select(i => ImageInput.FromFile(Image(Good[i % Good.Length]))).ToAsyncEnumerable();
        await foreach (EncodeResult result in encoder.EncodeAsync(inputs, token))
        {
            encoded += result.Succeeded ? 1 : 0;
            if (encoded == breakAfter)
            {
                break;
            }
            if (cancelAfter is { } c && encoded == c.After)
            {
                await c.Source.CancelAsync();
            }
        }
        return encoded;
    }

    private static long LiveTensors()
    {
        for (int i = 0; i < 2; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }
        return Tensor.TotalCount;
    }
}
