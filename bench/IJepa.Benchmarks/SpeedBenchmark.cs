using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using IJepa.Model;
using IJepa.Preprocessing;
using TorchSharp;
using static TorchSharp.torch;

namespace IJepa.Benchmarks;

/// <summary>
/// The whole comparison in one run: this library (float32, bfloat16) against ONNX Runtime float32 on the
/// same weights and thread count, against the measured GEMM peak, plus loading and preprocessing.
/// </summary>
internal static class SpeedBenchmark
{
    public sealed record Settings(string ModelDirectory, string OnnxPath, int Threads, int Repeats, string Device, string ResultsDirectory, string ImagesDirectory);

    public static int Run(Settings s)
    {
        set_num_threads(s.Threads);
        var report = new Report();
        var config = IJepaConfig.Load(Path.Combine(s.ModelDirectory, "config.json"));
        double gflop = ComputeBenchmark.GflopPerImage(config);
        report.Note($"{DateTime.UtcNow:yyyy-MM-dd}, {CpuName()}, {Environment.ProcessorCount} cores, {s.Threads} threads, device {s.Device}; model {Path.GetFileName(Path.TrimEndingDirectorySeparator(s.ModelDirectory))} ({config.NumHiddenLayers} blocks, width {config.HiddenSize}, {config.ImageSize} px), {gflop:F1} GFLOP per image; median of {s.Repeats} runs after one warm-up");

        // Loading first, in a fresh child process, so that nothing else is in the peak.
        LoadFigures(s, report);

        Device device = torch.device(s.Device);
        double peak32 = ComputeBenchmark.GemmPeak(ScalarType.Float32, s.Repeats, device);
        double peak16 = ComputeBenchmark.GemmPeak(ScalarType.BFloat16, s.Repeats, device);
        report.Add("gemm_peak_float32", peak32, "GFLOP/s", "best of linear() and oneDNN on encoder-sized shapes");
        report.Add("gemm_peak_bfloat16", peak16, "GFLOP/s", "best of linear() and oneDNN (plain, packed) on encoder-sized shapes");

        float[] pixels = RealImages(s.ImagesDirectory, config.ImageSize, 8);

        // This library, float32 then bfloat16; the float32 outputs are the reference for the others.
        float[] last32, pooled32;
        using (IJepaModel model = IJepaModel.FromPretrained(s.ModelDirectory, ScalarType.Float32, device))
        {
            (last32, pooled32) = Throughput(model, pixels, config, "ijepa_float32", peak32, gflop, s, report, measureRss: true);
            if (s.Device == "cpu")
            {
                // The route before oneDNN: every projection through nn.functional.linear (MKL for float32).
                OneDnnLinear.Enabled = false;
                Throughput(model, pixels, config, "ijepa_float32_functional_linear", peak32, gflop, s, report, measureRss: false, batches: [8]);
                OneDnnLinear.Enabled = true;
            }
        }
        using (IJepaModel model = IJepaModel.FromPretrained(s.ModelDirectory, ScalarType.BFloat16, device))
        {
            if (s.Device == "cpu")
            {
                Throughput(model, pixels, config, "ijepa_bfloat16_unpacked", peak16, gflop, s, report, measureRss: false, batches: [8]);
            }
            // What IJepaEncoder does for bfloat16 on the CPU.
            GC.Collect();
            long unpackedRss = ProcessMemory.Resident();
            bool packed = model.PackWeightsForInference();
            GC.Collect();
            report.Note($"bfloat16 weights packed for oneDNN: {(packed ? "yes" : "no")}");
            report.Add("bfloat16_pack_rss_change_gb", (ProcessMemory.Resident() - unpackedRss) / 1e9, "GB", "whole-process RSS after packing minus before (the plain weights are released)");
            (float[] last16, float[] pooled16) = Throughput(model, pixels, config, "ijepa_bfloat16", peak16, gflop, s, report, measureRss: false);
            int d = config.HiddenSize;
            double[] pooledCos = Cosines(pooled32, pooled16, d);
            double[] patchCos = Cosines(last32, last16, d);
            report.Add("bfloat16_pooled_cosine_min", pooledCos.Min(), "", "against float32, 8 real images (target >= 0.999)");
            report.Add("bfloat16_patch_cosine_min", patchCos.Min(), "", $"against float32, {patchCos.Length} patches");
            report.Add("bfloat16_patch_cosine_mean", patchCos.Average(), "", "(target >= 0.995)");
        }

        // The peer.
        if (s.Device == "cpu" && File.Exists(s.OnnxPath))
        {
            using var peer = new OnnxPeer(s.OnnxPath, s.Threads, config.ImageSize);
            (float[] lastOrt, _) = peer.Run(pixels, 8);
            double scale = last32.Max(Math.Abs);
            double error = lastOrt.Zip(last32).Max(p => Math.Abs(p.First - p.Second));
            report.Add("onnx_agreement_max_abs_diff_relative", error / scale, "", "max abs(ORT - ours) / max abs(ours), last_hidden_state, batch 8 (must be <= 1e-4)");
            if (error > 1e-4 * scale)
            {
                Console.Error.WriteLine("ONNX Runtime does not compute the same function; its timings would mean nothing.");
                report.Write(s.ResultsDirectory);
                return 1;
            }
            foreach (int batch in new[] { 1, 8 })
            {
                float[] input = pixels[..(batch * 3 * config.ImageSize * config.ImageSize)];
                double seconds = ComputeBenchmark.Median(s.Repeats, () => peer.Run(input, batch));
                report.Add($"onnxruntime_float32_batch{batch}", batch / seconds, "images/s", $"{gflop * batch / seconds:F1} GFLOP/s = {gflop * batch / seconds / peak32:P0} of the float32 GEMM peak");
            }
        }
        else
        {
            report.Note($"ONNX Runtime skipped: {(s.Device != "cpu" ? "CPU only here" : $"no {s.OnnxPath} (run bench/onnx/export_onnx.py)")}");
        }

        Ratio(report, "ijepa_bfloat16_batch8", "onnxruntime_float32_batch8", "bfloat16 / ONNX Runtime float32, batch 8 (target >= 2.0)");
        Ratio(report, "ijepa_float32_batch8", "onnxruntime_float32_batch8", "float32 / ONNX Runtime float32, batch 8 (target >= 1.0)");
        Ratio(report, "ijepa_bfloat16_batch1", "onnxruntime_float32_batch1", "bfloat16 / ONNX Runtime float32, batch 1");
        Ratio(report, "ijepa_float32_batch1", "onnxruntime_float32_batch1", "float32 / ONNX Runtime float32, batch 1");

        report.Add("preprocess_1024x768_jpeg", PreprocessRate(Path.Combine(s.ImagesDirectory, "photo_flower_1024x768.jpg"), s.Repeats), "images/s", "decode + resize + normalize, all cores (target >= 100)");
        report.Write(s.ResultsDirectory);
        return 0;
    }

    private static (float[] Last, float[] Pooled) Throughput(IJepaModel model, float[] pixels, IJepaConfig config, string name, double peak, double gflop, Settings s, Report report, bool measureRss, int[]? batches = null)
    {
        int size = config.ImageSize;
        float[] last = [], pooled = [];
        foreach (int batch in batches ?? [1, 8])
        {
            using var scope = NewDisposeScope();
            Tensor input = tensor(pixels[..(batch * 3 * size * size)], [batch, 3, size, size]).to(model.Device);
            long before = ProcessMemory.Resident();
            ProcessMemory.ResetPeak();
            double seconds = ComputeBenchmark.Median(s.Repeats, () =>
            {
                using IJepaModelOutput output = model.Forward(input);
                ComputeBenchmark.Synchronize(model.Device);
            });
            if (measureRss && batch == 8)
            {
                report.Add($"{name}_batch8_peak_rss_gb", ProcessMemory.Peak() / 1e9, "GB", $"whole process while running batch 8 ({before / 1e9:F2} GB before)");
            }
            report.Add($"{name}_batch{batch}", batch / seconds, "images/s", $"{gflop * batch / seconds:F1} GFLOP/s = {gflop * batch / seconds / peak:P0} of the GEMM peak");
            if (batch == 8)
            {
                using IJepaModelOutput output = model.Forward(input);
                last = output.LastHiddenState.to(ScalarType.Float32).cpu().data<float>().ToArray();
                pooled = output.Pooled.to(ScalarType.Float32).cpu().data<float>().ToArray();
            }
        }
        return (last, pooled);
    }

    private static void LoadFigures(Settings s, Report report)
    {
        var start = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "dotnet")
        {
            start.ArgumentList.Add(typeof(SpeedBenchmark).Assembly.Location);
        }
        foreach (string a in new[] { "load", "--model", s.ModelDirectory, "--repeats", s.Repeats.ToString(CultureInfo.InvariantCulture), "--json" })
        {
            start.ArgumentList.Add(a);
        }
        using Process child = Process.Start(start)!;
        string json = child.StandardOutput.ReadToEnd();
        child.WaitForExit();
        var r = JsonSerializer.Deserialize<LoadBenchmark.Result>(json)!;
        report.Add("checkpoint_gb", r.FileBytes / 1e9, "GB", "");
        report.Add("load_peak_rss_over_checkpoint", r.PeakRatio, "x", $"peak RSS above baseline {r.PeakRssAbove / 1e9:F3} GB (target <= 1.15)");
        report.Add("load_seconds", r.LoadSeconds, "s", "");
        report.Add("read_file_once_seconds", r.ReadSeconds, "s", "warm page cache");
        report.Add("load_over_read", r.TimeRatio, "x", "(target <= 2)");
    }

    private static float[] RealImages(string directory, int size, int count)
    {
        string[] names = ["photo_flower.png", "photo_ladybird.jpg", "photo_flower_1024x768.jpg", "gray_garment_28x28.png", "checker_97x61.png", "exif_orientation_6.jpg", "palette_50x40.png", "rgba_60x45.png"];
        var preprocessor = new ImagePreprocessor(PreprocessingOptions.HuggingFaceDefault with { Height = size, Width = size });
        using PreprocessedBatch batch = preprocessor.PreprocessBatch(names.Take(count).Select(n => ImageInput.FromFile(Path.Combine(directory, n))).ToArray());
        return batch.Pixels!.data<float>().ToArray();
    }

    private static double[] Cosines(float[] a, float[] b, int dim)
    {
        var result = new double[a.Length / dim];
        for (int i = 0; i < result.Length; i++)
        {
            result[i] = System.Numerics.Tensors.TensorPrimitives.CosineSimilarity(a.AsSpan(i * dim, dim), b.AsSpan(i * dim, dim));
        }
        return result;
    }

    /// <summary>Images/s for decode + resize + normalize of 64 copies of <paramref name="image"/>, all cores, median.</summary>
    public static double PreprocessRate(string image, int repeats, PreprocessingBackend backend = PreprocessingBackend.Torchvision)
    {
        var preprocessor = new ImagePreprocessor(PreprocessingOptions.HuggingFaceDefault with { Backend = backend });
        byte[] bytes = File.ReadAllBytes(image);
        ImageInput[] inputs = Enumerable.Range(0, 64).Select(i => ImageInput.FromBytes(bytes, $"copy {i}")).ToArray();
        double seconds = ComputeBenchmark.Median(repeats, () =>
        {
            using PreprocessedBatch batch = preprocessor.PreprocessBatch(inputs);
        });
        return inputs.Length / seconds;
    }

    private static void Ratio(Report report, string numerator, string denominator, string note)
    {
        if (report.TryGet(numerator, out double n) && report.TryGet(denominator, out double d))
        {
            report.Add($"ratio_{numerator}_over_{denominator}", n / d, "x", note);
        }
    }

    private static string CpuName()
    {
        try
        {
            string? line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
            return line?.Split(':', 2)[1].Trim() ?? "unknown CPU";
        }
        catch (IOException)
        {
            return "unknown CPU";
        }
    }

    /// <summary>Rows in the order measured; printed as they come, then written as Markdown and JSON.</summary>
    private sealed class Report
    {
        private readonly List<(string Key, double Value, string Unit, string Note)> _rows = [];
        private readonly List<string> _notes = [];

        public void Note(string text)
        {
            _notes.Add(text);
            Console.WriteLine(text);
        }

        public void Add(string key, double value, string unit, string note)
        {
            _rows.Add((key, value, unit, note));
            Console.WriteLine($"{key,-58} {Format(value),10} {unit,-9} {note}");
        }

        public bool TryGet(string key, out double value)
        {
            foreach (var row in _rows)
            {
                if (row.Key == key)
                {
                    value = row.Value;
                    return true;
                }
            }
            value = 0;
            return false;
        }

        public void Write(string directory)
        {
            Directory.CreateDirectory(directory);
            var md = new StringBuilder("# IJepa benchmark\n\n");
            foreach (string note in _notes)
            {
                md.Append(note).Append("\n\n");
            }
            md.Append("| measure | value | unit | note |\n|---|---|---|---|\n");
            foreach (var (key, value, unit, note) in _rows)
            {
                md.Append(CultureInfo.InvariantCulture, $"| {key} | {Format(value)} | {unit} | {note} |\n");
            }
            File.WriteAllText(Path.Combine(directory, "latest.md"), md.ToString());
            var json = new Dictionary<string, object>
            {
                ["notes"] = _notes,
                ["results"] = _rows.Select(r => new Dictionary<string, object> { ["key"] = r.Key, ["value"] = r.Value, ["unit"] = r.Unit, ["note"] = r.Note }).ToList(),
            };
            File.WriteAllText(Path.Combine(directory, "latest.json"), JsonSerializer.Serialize(json, new JsonSerializerOptions { WriteIndented = true }));
            Console.WriteLine($"wrote {Path.Combine(directory, "latest.md")} and latest.json");
        }

        private static string Format(double v) => v.ToString(Math.Abs(v) >= 100 ? "F1" : Math.Abs(v) >= 1 ? "F3" : "G4", CultureInfo.InvariantCulture);
    }
}
