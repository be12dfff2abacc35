using System.Diagnostics;
using IJepa.Preprocessing;
using TorchSharp;

namespace IJepa.Tests;

/// <summary>Runs alone: these tests read process-wide counters (live tensors, resident memory).</summary>
[CollectionDefinition(nameof(ProcessWide), DisableParallelization = true)]
public sealed class ProcessWide;

/// <summary>Concurrency, a short soak and cancellation, with process-wide memory checks.</summary>
[Collection(nameof(ProcessWide))]
public class ReliabilityTests
{
    private static string Model => TestData.Reference("ijepa_tiny_p14");

    private static readonly string[] Files = ["photo_flower.png", "small_17x23.png", "checker_97x61.png", "palette_50x40.png", "rgba_60x45.png", "exif_orientation_6.jpg", "gray16_40x30.png", "bmp_33x17.bmp"];

    private static string Image(string name) => Path.Combine(AppContext.BaseDirectory, "images", "input", name);

    [Fact]
    public void Eight_threads_times_one_hundred_encodes_are_bitwise_equal_to_serial_ones()
    {
        using IJepaEncoder encoder = IJepaEncoder.Load(Model, new IJepaEncoderOptions { BatchSize = 1 });
        float[][] serial = Files.Select(f => encoder.Encode(Image(f)).Pooled).ToArray();
        var results = new float[8][][];
        var threads = Enumerable.Range(0, 8).Select(t => new Thread(() =>
        {
            results[t] = new float[100][];
            for (int i = 0; i < 100; i++)
            {
                results[t][i] = encoder.Encode(Image(Files[(t + i) % Files.Length])).Pooled;
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        for (int t = 0; t < 8; t++)
        {
            for (int i = 0; i < 100; i++)
            {
                Assert.Equal(serial[(t + i) % Files.Length], results[t][i]);
            }
        }
    }

    [Fact]
    public async Task A_short_soak_keeps_memory_flat_and_releases_every_tensor()
    {
        using IJepaEncoder encoder = IJepaEncoder.Load(Model, new IJepaEncoderOptions { BatchSize = 4 });
        await Stream(encoder, 600); // warm-up: pools, allocator arenas, JIT
        long tensors = LiveTensors();
        long resident = Resident();
        int encoded = await Stream(encoder, 600);
        Assert.Equal(600, encoded);
        Assert.Equal(tensors, LiveTensors());
        double growth = (double)(Resident() - resident) / resident;
        Assert.True(growth < 0.05, $"resident memory grew {growth:P1} over 600 images");
    }

    [Fact]
    public async Task Cancelling_mid_batch_returns_promptly_releases_memory_and_leaves_the_encoder_usable()
    {
        using IJepaEncoder encoder = IJepaEncoder.Load(Model, new IJepaEncoderOptions { BatchSize = 8 });
        await Stream(encoder, 16);
        long tensors = LiveTensors();
        using var cancel = new CancellationTokenSource();
        int seen = 0;
        var watch = new Stopwatch();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (EncodeResult result in encoder.EncodeAsync(Inputs(1000), cancel.Token))
            {
                if (++seen == 3) // the middle of the first batch of 8
                {
                    watch.Start();
                    await cancel.CancelAsync();
                }
            }
        });
        watch.Stop();
        Assert.Equal(3, seen);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(2), $"took {watch.Elapsed} to stop");
        Assert.Equal(tensors, LiveTensors());
        Assert.Equal(48, encoder.Encode(Image(Files[0])).Dimension);
    }

    /// <summary>
    /// The process-wide live tensor count once finalizers have run: other tests' undisposed tensors
    /// (slices and the like) are released by the finalizer thread, which would otherwise move the count
    /// in the middle of a measurement.
    /// </summary>
    private static long LiveTensors()
    {
        for (int i = 0; i < 2; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }
        return torch.Tensor.TotalCount;
    }

    private static async Task<int> Stream(IJepaEncoder encoder, int count)
    {
        int encoded = 0;
        await foreach (EncodeResult result in encoder.EncodeAsync(Inputs(count)))
        {
            encoded += result.Succeeded ? 1 : 0;
        }
        return encoded;
    }

    private static async IAsyncEnumerable<ImageInput> Inputs(int count)
    {
        for (int i = 0; i < count; i++)
        {
            await Task.Yield();
            yield return ImageInput.FromFile(Image(Files[i % Files.Length]));
        }
    }

    /// <summary>Resident memory after a compacting collection and malloc_trim (see the soak command), lowest of three readings.</summary>
    private static long Resident() => Enumerable.Range(0, 3).Min(_ => IJepa.Fuzz.Settle.Resident());
}
