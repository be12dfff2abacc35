using System.Diagnostics;
using IJepa.Model;
using static TorchSharp.torch;

namespace IJepa.Benchmarks;

/// <summary>
/// Loading cost: peak resident memory above the process baseline and wall time, against the
/// checkpoint's size and the time to read the file once (warm page cache for both).
/// </summary>
internal static class LoadBenchmark
{
    public sealed record Result(long FileBytes, long BaselineRss, long PeakRssAbove, double LoadSeconds, double ReadSeconds)
    {
        public double PeakRatio => (double)PeakRssAbove / FileBytes;

        public double TimeRatio => LoadSeconds / ReadSeconds;
    }

    /// <summary>Writes a random full-size ViT-H/14 checkpoint in the HF layout unless one is there.</summary>
    public static string EnsureVitHugeCheckpoint(string directory)
    {
        if (File.Exists(Path.Combine(directory, "model.safetensors")))
        {
            return directory;
        }
        Console.WriteLine($"writing a random ViT-H/14 checkpoint to {directory} ...");
        using IJepaModel model = IJepaModel.Create(IJepaConfig.VitHuge14);
        model.InitializeRandom(seed: 42);
        model.SavePretrained(directory);
        return directory;
    }

    /// <summary>Call in a fresh process (the checkpoint already written) so that the peak holds nothing but the load.</summary>
    public static Result Measure(string modelDirectory, int repeats)
    {
        string file = Path.Combine(modelDirectory, "model.safetensors");
        long fileBytes = new FileInfo(file).Length;
        double readSeconds = Enumerable.Range(0, repeats).Select(_ => TimeRead(file)).Order().ElementAt(repeats / 2);

        using (Tensor warm = ones(1))
        {
        }
        // Peak memory from the first load in this fresh process: later loads reuse the heap that the
        // first one's freed parameters leave behind, so their peak would read low.
        var loads = new List<double>();
        long peakAbove = 0, baseline = 0;
        for (int i = 0; i < repeats; i++)
        {
            GC.Collect();
            long before = ProcessMemory.Resident();
            ProcessMemory.ResetPeak();
            var watch = Stopwatch.StartNew();
            using (IJepaModel model = IJepaModel.FromPretrained(modelDirectory))
            {
                watch.Stop();
                if (i == 0)
                {
                    baseline = before;
                    peakAbove = ProcessMemory.Peak() - before;
                }
            }
            loads.Add(watch.Elapsed.TotalSeconds);
        }
        return new Result(fileBytes, baseline, peakAbove, loads.Order().ElementAt(repeats / 2), readSeconds);
    }

    private static double TimeRead(string file)
    {
        byte[] buffer = new byte[8 << 20];
        var watch = Stopwatch.StartNew();
        using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
        while (stream.Read(buffer) > 0)
        {
        }
        return watch.Elapsed.TotalSeconds;
    }
}
