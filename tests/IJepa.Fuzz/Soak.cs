using System.Diagnostics;
using IJepa.Preprocessing;
using TorchSharp;

namespace IJepa.Fuzz;

/// <summary>
/// Many images through <see cref="IJepaEncoder.EncodeAsync"/> on a small model: after a warm-up, resident
/// memory must grow less than 5 % and the live tensor count must come back to its baseline.
/// </summary>
internal static class Soak
{
    public static int Run(int count, string model, string imagesDirectory, int warmUp)
    {
        string[] files = Directory.GetFiles(imagesDirectory).Order(StringComparer.Ordinal).ToArray();
        using IJepaEncoder encoder = IJepaEncoder.Load(model, new IJepaEncoderOptions { BatchSize = 8 });
        Console.WriteLine($"soak: {count} images ({files.Length} files in turn) through EncodeAsync on {encoder.ModelId}, after a warm-up stream of {warmUp}");
        foreach (EncodeResult _ in Stream(encoder, files, warmUp))
        {
        }
        (long baselineRss, long baselineTensors) = (Settle.Resident(), torch.Tensor.TotalCount);
        long maxRss = 0;
        var samples = new List<long>();
        int done = 0, failed = 0;
        var watch = Stopwatch.StartNew();
        foreach (EncodeResult result in Stream(encoder, files, count))
        {
            done++;
            failed += result.Succeeded ? 0 : 1;
            if (done % 200 == 0)
            {
                long rss = Environment.WorkingSet;
                maxRss = Math.Max(maxRss, rss);
                long settled = Settle.Resident();
                samples.Add(settled);
                Console.WriteLine($"  {done}: resident {rss / 1e6:F0} MB, settled {settled / 1e6:F0} MB, live tensors {torch.Tensor.TotalCount}");
            }
        }
        double seconds = watch.Elapsed.TotalSeconds;
        long endRss = Settle.Resident();
        long endTensors = torch.Tensor.TotalCount;
        // Single readings swing by ±25 % with whatever batch is in flight when they are taken, so growth is
        // judged on the trend: the mean of the last third of the settled samples against the first third.
        int third = Math.Max(samples.Count / 3, 1);
        double first = samples.Take(third).Average(), last = samples.TakeLast(third).Average();
        double growth = (last - first) / first;
        Console.WriteLine($"images {done} ({failed} refused as bad input), {done / seconds:F1} images/s");
        Console.WriteLine($"settled resident: after warm-up {baselineRss / 1e6:F1} MB, at the end {endRss / 1e6:F1} MB; samples {samples.Min() / 1e6:F0}–{samples.Max() / 1e6:F0} MB; first third {first / 1e6:F1} MB, last third {last / 1e6:F1} MB: growth {growth:P2} (target < 5 %); highest unsettled {maxRss / 1e6:F1} MB");
        Console.WriteLine($"live tensors after warm-up {baselineTensors}, at the end {endTensors}");
        return growth < 0.05 && endTensors == baselineTensors ? 0 : 1;
    }

    private static IEnumerable<EncodeResult> Stream(IJepaEncoder encoder, string[] files, int count)
    {
        IAsyncEnumerator<EncodeResult> results = encoder.EncodeAsync(Inputs(files, count)).GetAsyncEnumerator();
        try
        {
            while (results.MoveNextAsync().AsTask().GetAwaiter().GetResult())
            {
                yield return results.Current;
            }
        }
        finally
        {
            results.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    private static async IAsyncEnumerable<ImageInput> Inputs(string[] files, int count)
    {
        for (int i = 0; i < count; i++)
        {
            await Task.Yield();
            yield return ImageInput.FromFile(files[i % files.Length]);
        }
    }
}
