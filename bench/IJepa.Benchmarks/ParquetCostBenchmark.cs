using System.Diagnostics;
using System.Globalization;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace IJepa.Benchmarks;

/// <summary>
/// What Parquet output costs: the same FeatureDump run (same images, model and options) writing safetensors and
/// writing a Parquet dataset, as child processes, interleaved over rounds. Reports each run's wall time (model load,
/// encoding and writing), its CPU time (user + system, from bash's <c>times</c>), its own images/s line, and its peak
/// resident memory (read from /proc while it runs).
/// </summary>
internal static class ParquetCostBenchmark
{
    public sealed record Settings(string FeatureDump, string Model, string Images, int Count, int Rounds, bool Patches, int? Threads, string Work, string? Out);

    public static int Run(Settings s)
    {
        EnsureImages(s.Images, s.Count);
        var report = new StringWriter(CultureInfo.InvariantCulture);
        void Say(string line)
        {
            Console.WriteLine(line);
            report.WriteLine(line);
        }
        Say($"parquet-cost: {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, load {File.ReadAllText("/proc/loadavg").Trim()}");
        Say($"model {s.Model}; {s.Count} images in {s.Images}; patches {s.Patches}; threads and workers {s.Threads?.ToString(CultureInfo.InvariantCulture) ?? "default"}; rounds {s.Rounds}");
        var wall = new Dictionary<string, List<double>> { ["safetensors"] = [], ["parquet"] = [] };
        var cpu = new Dictionary<string, List<double>> { ["safetensors"] = [], ["parquet"] = [] };
        var rate = new Dictionary<string, List<double>> { ["safetensors"] = [], ["parquet"] = [] };
        for (int round = 0; round < s.Rounds; round++)
        {
            // Alternate which goes first, so that a drift in the machine's load favours neither.
            string[] order = round % 2 == 0 ? ["safetensors", "parquet"] : ["parquet", "safetensors"];
            foreach (string format in order)
            {
                string output = Path.Combine(s.Work, format == "parquet" ? "out.parquet" : "out.safetensors");
                if (Directory.Exists(output))
                {
                    Directory.Delete(output, recursive: true);
                }
                File.Delete(output);
                (double seconds, double cpuSeconds, string done, long peak) = RunOnce(s, output);
                wall[format].Add(seconds);
                cpu[format].Add(cpuSeconds);
                rate[format].Add(ImagesPerSecond(done));
                Say($"round {round + 1} {format,-11}: {seconds,7:F2} s wall, {cpuSeconds,7:F2} s CPU, {s.Count / seconds,7:F1} images/s, peak RSS {peak / 1048576.0,6:F0} MB | {done}");
            }
        }
        foreach ((string what, Dictionary<string, List<double>> times) in new[] { ("wall", wall), ("CPU", cpu) })
        {
            double safetensors = HubBenchmark.Median(times["safetensors"]), parquet = HubBenchmark.Median(times["parquet"]);
            Say($"median {what}: safetensors {safetensors:F2} s, parquet {parquet:F2} s; parquet throughput = {safetensors / parquet:F3} x safetensors ({(parquet / safetensors - 1) * 100:+0.0;-0.0} % {what} time); "
                + $"per round parquet / safetensors: {string.Join(", ", times["parquet"].Zip(times["safetensors"], (p, t) => (p / t).ToString("F3", CultureInfo.InvariantCulture)))}");
        }
        // FeatureDump's own rate: its encoding loop and the writing, without the process start, the model load and
        // opening the output (fixed costs that a long run does not notice).
        double safetensorsRate = HubBenchmark.Median(rate["safetensors"]), parquetRate = HubBenchmark.Median(rate["parquet"]);
        Say($"median FeatureDump rate: safetensors {safetensorsRate:F1} images/s, parquet {parquetRate:F1} images/s; parquet = {parquetRate / safetensorsRate:F3} x safetensors "
            + $"({(1 - (parquetRate / safetensorsRate)) * 100:+0.0;-0.0} % slower); per round parquet / safetensors: "
            + string.Join(", ", rate["parquet"].Zip(rate["safetensors"], (p, t) => (p / t).ToString("F3", CultureInfo.InvariantCulture))));
        // The best round of each: on a machine whose rounds scatter by ±10 % and more, the least disturbed one of each
        // format is the closest to what the format itself costs.
        double bestSafetensors = rate["safetensors"].Max(), bestParquet = rate["parquet"].Max();
        double leastSafetensors = cpu["safetensors"].Min(), leastParquet = cpu["parquet"].Min();
        Say($"best round: FeatureDump rate safetensors {bestSafetensors:F1} images/s, parquet {bestParquet:F1} images/s (parquet = {bestParquet / bestSafetensors:F3} x); "
            + $"least CPU safetensors {leastSafetensors:F2} s, parquet {leastParquet:F2} s ({(leastParquet / leastSafetensors - 1) * 100:+0.0;-0.0} %)");
        if (s.Out is { } file)
        {
            File.AppendAllText(file, report.ToString());
        }
        return 0;
    }

    private static (double Seconds, double CpuSeconds, string Done, long Peak) RunOnce(Settings s, string output)
    {
        // Through bash, whose `times` prints the CPU time of its finished children (getrusage): CPU seconds are
        // what the writing costs even when other jobs share the machine and stretch the wall time.
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = s.Work };
        foreach (string a in (string[])["-c", "\"$@\"; status=$?; times >&2; exit $status", "bash", "dotnet", s.FeatureDump, "--model", s.Model, "--out", output,
            .. s.Patches ? ["--patches"] : Array.Empty<string>(),
            .. s.Threads is int n ? ["--threads", n.ToString(CultureInfo.InvariantCulture), "--workers", n.ToString(CultureInfo.InvariantCulture)] : Array.Empty<string>(), s.Images])
        {
            start.ArgumentList.Add(a);
        }
        var watch = Stopwatch.StartNew();
        using Process process = Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync(), stderr = process.StandardError.ReadToEndAsync();
        long peak = 0;
        while (!process.WaitForExit(50))
        {
            foreach (int child in Children(process.Id))
            {
                peak = Math.Max(peak, ProcessMemory.Peak(child) ?? 0);
            }
        }
        double seconds = watch.Elapsed.TotalSeconds;
        string text = stdout.Result;
        string[] errors = stderr.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        if (process.ExitCode != 0 || errors.Length < 2)
        {
            throw new InvalidOperationException($"FeatureDump exited {process.ExitCode}:\n{text}\n{stderr.Result}");
        }
        // The last line of `times`: the children's user and system time, e.g. "0m12.345s 0m0.678s".
        double cpu = errors[^1].Split(' ').Sum(t => (double.Parse(t[..t.IndexOf('m')], CultureInfo.InvariantCulture) * 60) + double.Parse(t[(t.IndexOf('m') + 1)..^1], CultureInfo.InvariantCulture));
        string done = text.Split('\n').LastOrDefault(l => l.StartsWith("done: ", StringComparison.Ordinal))?.Trim() ?? "";
        return (seconds, cpu, done, peak);
    }

    /// <summary>The images/s figure of FeatureDump's "done:" line.</summary>
    private static double ImagesPerSecond(string done)
    {
        string[] words = done.Split(' ');
        int unit = Array.FindIndex(words, w => w.StartsWith("images/s", StringComparison.Ordinal));
        return unit > 0 ? double.Parse(words[unit - 1], CultureInfo.InvariantCulture) : throw new InvalidOperationException($"no images/s in '{done}'");
    }

    private static IEnumerable<int> Children(int processId)
    {
        string list;
        try
        {
            list = File.ReadAllText($"/proc/{processId}/task/{processId}/children");
        }
        catch (IOException)
        {
            yield break;
        }
        foreach (string id in list.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            yield return int.Parse(id, CultureInfo.InvariantCulture);
        }
    }

    /// <summary>Synthetic 320 × 240 JPEG photos-to-be (smooth gradients and noise), written once.</summary>
    private static void EnsureImages(string folder, int count)
    {
        Directory.CreateDirectory(folder);
        var random = new Random(320);
        for (int i = Directory.GetFiles(folder, "*.jpg").Length; i < count; i++)
        {
            using var image = new Image<Rgb24>(320, 240);
            int a = random.Next(256), b = random.Next(256);
            for (int y = 0; y < 240; y++)
            {
                for (int x = 0; x < 320; x++)
                {
                    image[x, y] = new Rgb24((byte)((x + a) & 255), (byte)((y + b) & 255), (byte)random.Next(256));
                }
            }
            image.SaveAsJpeg(Path.Combine(folder, $"img{i:D5}.jpg"));
        }
    }
}
