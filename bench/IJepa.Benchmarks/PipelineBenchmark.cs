using System.Diagnostics;
using System.Globalization;
using System.Text;
using IJepa.Preprocessing;

namespace IJepa.Benchmarks;

/// <summary>
/// The encoder's input pipeline on real photos: end-to-end <see cref="IJepaEncoder.EncodeAsync"/> throughput
/// with 1..N workers (rounds interleaved, so drift hits every setting alike), exact and reduced decoding, and the
/// reduced decode's pooled cosine against the exact path on each photo.
/// </summary>
internal static class PipelineBenchmark
{
    public sealed record Settings(string PhotosDirectory, string ModelDirectory, string Device, string DType, int[] Workers, int Batch, int Images, int Rounds, string? ResultsFile, bool CosineOnly = false);

    public static int Run(Settings s)
    {
        string[] photos = Directory.EnumerateFiles(s.PhotosDirectory)
            .Where(f => f.EndsWith(".jpg", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".jpeg", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".png", StringComparison.OrdinalIgnoreCase))
            .Order(StringComparer.Ordinal).ToArray();
        if (photos.Length == 0)
        {
            Console.Error.WriteLine($"no photos in {s.PhotosDirectory} (bench/photos/get-photos.sh fetches some)");
            return 2;
        }
        // Bytes in memory: the measurement is decoding and the model, not the disk.
        byte[][] bytes = photos.Select(File.ReadAllBytes).ToArray();
        var text = new StringBuilder();
        void Line(string line)
        {
            Console.WriteLine(line);
            text.AppendLine(line);
        }
        double megapixels = photos.Average(p => ImageSize(p) / 1e6);
        Line($"{DateTime.UtcNow:yyyy-MM-dd} {Environment.ProcessorCount} cores; {photos.Length} photos ({megapixels:F1} MP average) cycled to {s.Images} images; model {s.ModelDirectory}; device {s.Device} {s.DType}; batch {s.Batch}; median of {s.Rounds} interleaved rounds");

        var rates = new Dictionary<string, List<double>>();
        var encoders = new Dictionary<string, IJepaEncoder>();
        try
        {
            foreach (int workers in s.CosineOnly ? [s.Workers.Max()] : s.Workers)
            {
                foreach (bool fast in new[] { false, true })
                {
                    encoders[Key(workers, fast)] = IJepaEncoder.Load(s.ModelDirectory, Options(s, workers, fast));
                }
            }
            // Warm-up: one pass each.
            foreach (IJepaEncoder encoder in s.CosineOnly ? [] : encoders.Values.ToArray())
            {
                Encode(encoder, bytes, Math.Min(s.Images, 2 * s.Batch));
            }
            for (int round = 0; round < (s.CosineOnly ? 0 : s.Rounds); round++)
            {
                foreach ((string key, IJepaEncoder encoder) in encoders)
                {
                    double seconds = Encode(encoder, bytes, s.Images);
                    (rates.TryGetValue(key, out var list) ? list : rates[key] = []).Add(s.Images / seconds);
                }
            }
            foreach (bool fast in s.CosineOnly ? [] : new[] { false, true })
            {
                double one = Median(rates[Key(s.Workers[0], fast)]);
                foreach (int workers in s.Workers)
                {
                    double rate = Median(rates[Key(workers, fast)]);
                    Line($"  {(fast ? "fast " : "exact")} decode, {workers,2} workers: {rate,8:F1} images/s  ({rate / one:F2}x {s.Workers[0]} worker{(s.Workers[0] == 1 ? "" : "s")}; rounds {string.Join(", ", rates[Key(workers, fast)].Select(r => r.ToString("F1", CultureInfo.InvariantCulture)))})");
                }
            }
            int most = s.Workers.Max();
            if (!s.CosineOnly)
            {
                Line($"  fast / exact at {most} workers: {Median(rates[Key(most, true)]) / Median(rates[Key(most, false)]):F2}x");
            }

            // Reduced decode against exact, photo by photo.
            IJepaEncoder exact = encoders[Key(most, false)], reduced = encoders[Key(most, true)];
            var cosines = new List<double>();
            for (int i = 0; i < photos.Length; i++)
            {
                float[] a = exact.Encode(bytes[i], photos[i]).Pooled.ToArray();
                float[] b = reduced.Encode(bytes[i], photos[i]).Pooled.ToArray();
                double cosine = EmbeddingMath.CosineSimilarity(a, b);
                cosines.Add(cosine);
                Line($"  cosine(pooled fast, pooled exact) {Path.GetFileName(photos[i]),-24} {ImageSize(photos[i]) / 1e6,5:F1} MP: {cosine:F6}");
            }
            Line($"  fast decode pooled cosine: min {cosines.Min():F6}, mean {cosines.Average():F6} (target >= 0.999)");
        }
        finally
        {
            foreach (IJepaEncoder encoder in encoders.Values)
            {
                encoder.Dispose();
            }
        }
        if (s.ResultsFile is { } file)
        {
            File.WriteAllText(file, text.ToString());
            Console.WriteLine($"wrote {file}");
        }
        return 0;
    }

    private static IJepaEncoderOptions Options(Settings s, int workers, bool fast) => new()
    {
        Device = s.Device,
        DType = s.DType switch
        {
            "bfloat16" => ComputeDType.BFloat16,
            "float16" => ComputeDType.Float16,
            _ => ComputeDType.Float32,
        },
        BatchSize = s.Batch,
        Workers = workers,
        IncludePatches = false,
        Decoding = fast ? ImageDecoding.NativeReduced : null,
    };

    private static string Key(int workers, bool fast) => $"{workers}/{fast}";

    private static double Encode(IJepaEncoder encoder, byte[][] photos, int count)
    {
        var watch = Stopwatch.StartNew();
        int done = 0;
        var inputs = Enumerable.Range(0, count).Select(i => ImageInput.FromBytes(photos[i % photos.Length], $"photo {i}")).ToAsyncEnumerable();
        foreach (EncodeResult result in encoder.EncodeAsync(inputs).ToBlockingEnumerable())
        {
            if (!result.Succeeded)
            {
                throw new InvalidOperationException(result.Error!.Message);
            }
            done++;
        }
        return watch.Elapsed.TotalSeconds;
    }

    private static double Median(List<double> values)
    {
        double[] sorted = [.. values.Order()];
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private static long ImageSize(string path)
    {
        var info = SixLabors.ImageSharp.Image.Identify(path);
        return (long)info.Width * info.Height;
    }
}
