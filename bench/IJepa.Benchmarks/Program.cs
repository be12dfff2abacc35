using System.Globalization;
using System.Text.Json;
using IJepa.Benchmarks;
using IJepa.Preprocessing;

// IJepa benchmarks.
//   dotnet run --project bench/IJepa.Benchmarks -c Release                 # everything, one run (see README)
//       [--model DIR] [--onnx FILE] [--threads N] [--repeats N] [--device cpu|cuda]
//   dotnet run --project bench/IJepa.Benchmarks -c Release -- parquet-topk [--rows 1000000] [--dim 1280] [--queries 1,10] [--data DIR]
//       exact top-10 with DuckDB over a synthetic Parquet dataset it writes first (about 5 GB at the defaults)
//   dotnet run --project bench/IJepa.Benchmarks -c Release -- parquet-cost [--model DIR] [--images 2000] [--rounds 3] [--patches] [--threads N] [--out FILE]
//       FeatureDump writing safetensors against writing Parquet, same images and model, interleaved child processes
//   dotnet run --project bench/IJepa.Benchmarks -c Release -- load [--model DIR] [--repeats N] [--json]
//   dotnet run --project bench/IJepa.Benchmarks -c Release -- preprocess [--image FILE] [--repeats N]
//   dotnet run --project bench/IJepa.Benchmarks -c Release -- load-original [--checkpoint FILE] [--part encoder]
//   dotnet run --project bench/IJepa.Benchmarks -c Release -- forward [--dtype bfloat16] [--batch N] [--no-pack] [--functional-linear]
//   dotnet run --project bench/IJepa.Benchmarks -c Release -- routes [--rounds N] [--onnx FILE]   # interleaved: routes and ONNX Runtime
//   dotnet run --project bench/IJepa.Benchmarks -c Release -- gpu-forward --model DIR [--device cuda] [--dtypes float32,bfloat16] [--batches 1,64,256] [--profile]
//   dotnet run --project bench/IJepa.Benchmarks -c Release -- pipeline [--photos DIR] [--model DIR] [--workers 1,2] [--batch N] [--images N] [--rounds N] [--device D] [--dtype T] [--out FILE] [--cosine-only]
//       EncodeAsync end to end on real photos (bench/photos/get-photos.sh) by worker count, exact and fast decode,
//       and the fast decode's pooled cosine against exact; without --model the FeatureDump demo model.
//   dotnet run --project bench/IJepa.Benchmarks -c Release -- hub [--model DIR] [--rounds N] [--work DIR] [--out FILE]
//       Download of DIR's model.safetensors from the tests' fake hub (a child process on 127.0.0.1) against curl of the
//       same URL, peak memory, resume after a cut halfway, and loading from the cache against loading DIR.
//   dotnet run --project bench/IJepa.Benchmarks -c Release -- server-load [--model DIR] [--photos DIR] [--requests 4000] [--clients 64]
//       [--overload-clients 256] [--overload-queue 16] [--overload-seconds 45] [--phases load,overload,sigterm] [--out FILE]
//       [--server-options "--malloc-mmap-threshold 1048576"]
//       The embedding server (samples/IJepa.Server) under a C# HttpClient load generator against FeatureDump's offline rate,
//       overload with a small queue, and SIGTERM mid-load; without --model the FeatureDump demo model.
//   dotnet run --project bench/IJepa.Benchmarks -c Release -- train-flops [--width 96] [--depth 4] [--heads 4] [--predictor-width 48] [--predictor-depth 2]
//       [--batch 128] [--patch 4] [--image-size 28] [--steps 40] [--threads N] [--precision float32,bfloat16] [--out FILE]
//       An I-JEPA training step's matrix work per second against the machine's float32 GEMM peak (the shipped model's sizes by default).
//   dotnet run --project bench/IJepa.Benchmarks -c Release -- scalar-race [--calls 3000000] [--rounds 3]
//       x.add_(y) (TorchSharp's temporary alpha) against x.add_(y, held alpha) under a busy finalizer, in child processes.
// Without --model, a random full-size ViT-H/14 checkpoint is written to bench/results/tmp/vith14 first,
// and its ONNX export (Debian's python3-torch, bench/onnx/export_onnx.py) to bench/results/tmp/vith14-onnx.
string command = args.Length > 0 && !args[0].StartsWith("--", StringComparison.Ordinal) ? args[0] : "all";
string repository = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "../../../../.."));
string resultsDir = Path.Combine(repository, "bench", "results");
string imagesDir = Path.Combine(repository, "tests", "reference", "images", "input");
int repeats = int.Parse(Option("--repeats") ?? "5", CultureInfo.InvariantCulture);
string modelDir = Option("--model") ?? Path.Combine(resultsDir, "tmp", "vith14");
bool randomModel = Option("--model") is null;

switch (command)
{
    case "parquet-topk":
        return ParquetTopKBenchmark.Run(Option("--data") ?? Path.Combine(resultsDir, "tmp", "topk"), int.Parse(Option("--rows") ?? "1000000", CultureInfo.InvariantCulture),
            int.Parse(Option("--dim") ?? "1280", CultureInfo.InvariantCulture), [.. (Option("--queries") ?? "1,10").Split(',').Select(q => int.Parse(q, CultureInfo.InvariantCulture))], 10);
    case "all":
        {
            if (randomModel)
            {
                LoadBenchmark.EnsureVitHugeCheckpoint(modelDir);
            }
            string onnx = Option("--onnx") ?? Path.Combine(modelDir + "-onnx", "model.onnx");
            string device = Option("--device") ?? "cpu";
            if (device == "cpu" && !File.Exists(onnx) && !Export(modelDir, onnx))
            {
                Console.Error.WriteLine($"could not export {onnx}; ONNX Runtime will be skipped");
            }
            int threads = int.Parse(Option("--threads") ?? Environment.ProcessorCount.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
            return SpeedBenchmark.Run(new SpeedBenchmark.Settings(modelDir, onnx, threads, repeats, device, resultsDir, imagesDir));
        }
    case "load":
        {
            if (randomModel && !File.Exists(Path.Combine(modelDir, "model.safetensors")))
            {
                LoadBenchmark.EnsureVitHugeCheckpoint(modelDir);
                Console.WriteLine("checkpoint written; run the command again to measure in a fresh process");
                return 0;
            }
            LoadBenchmark.Result r = LoadBenchmark.Measure(modelDir, repeats);
            if (args.Contains("--json"))
            {
                Console.WriteLine(JsonSerializer.Serialize(r));
                return 0;
            }
            Console.WriteLine($"checkpoint           {r.FileBytes / 1e9:F3} GB");
            Console.WriteLine($"baseline RSS         {r.BaselineRss / 1e9:F3} GB");
            Console.WriteLine($"peak RSS above base  {r.PeakRssAbove / 1e9:F3} GB  = {r.PeakRatio:F3} x checkpoint (target <= 1.15)");
            Console.WriteLine($"load time (median)   {r.LoadSeconds:F2} s");
            Console.WriteLine($"read file once       {r.ReadSeconds:F2} s  -> load / read = {r.TimeRatio:F2} (target <= 2)");
            return 0;
        }
    case "preprocess":
        {
            // Both backends, interleaved over three rounds, so that a noisy spell hits both.
            string image = Option("--image") ?? Path.Combine(imagesDir, "photo_flower_1024x768.jpg");
            for (int round = 1; round <= 3; round++)
            {
                foreach (PreprocessingBackend backend in new[] { PreprocessingBackend.Torchvision, PreprocessingBackend.Pil })
                {
                    double rate = SpeedBenchmark.PreprocessRate(image, repeats, backend);
                    Console.WriteLine($"round {round} {backend,-11} preprocess {Path.GetFileName(image)} (decode + resize 224 + normalize), {Environment.ProcessorCount} cores: median {rate:F1} images/s (target >= 190)");
                }
            }
            return 0;
        }
    case "load-original":
        {
            // Peak memory of loading one encoder from an original training checkpoint (bench/original/make_original.py),
            // against the bytes of that part: the other parts and the optimizer state must not be read.
            string file = Option("--checkpoint") ?? Path.Combine(resultsDir, "tmp", "original-vitl.pth.tar");
            var part = Option("--part") == "encoder" ? IJepa.Checkpoints.Original.EncoderPart.Encoder : IJepa.Checkpoints.Original.EncoderPart.TargetEncoder;
            using (TorchSharp.torch.Tensor warm = TorchSharp.torch.ones(1))
            {
            }
            GC.Collect();
            long before = ProcessMemory.Resident();
            ProcessMemory.ResetPeak();
            var watch = System.Diagnostics.Stopwatch.StartNew();
            using var checkpoint = IJepa.Checkpoints.Original.OriginalCheckpoint.Open(file);
            using var model = checkpoint.LoadEncoder(part);
            watch.Stop();
            long peak = ProcessMemory.Peak() - before;
            long partBytes = model.parameters().Sum(p => p.NumberOfElements * p.ElementSize);
            Console.WriteLine($"{Path.GetFileName(file)} ({new FileInfo(file).Length / 1e9:F2} GB): loaded {part} = {partBytes / 1e9:F3} GB in {watch.Elapsed.TotalSeconds:F2} s");
            Console.WriteLine($"peak RSS above baseline {peak / 1e9:F3} GB = {(double)peak / partBytes:F3} x the part (target <= 1.2)");
            return 0;
        }
    case "forward":
        {
            // One configuration only, for trying a change quickly: --dtype float32|bfloat16 --batch N
            // [--no-pack: bfloat16 weights left plain] [--functional-linear: no oneDNN linear].
            var dtype = Option("--dtype") == "bfloat16" ? TorchSharp.torch.ScalarType.BFloat16 : TorchSharp.torch.ScalarType.Float32;
            int batch = int.Parse(Option("--batch") ?? "8", CultureInfo.InvariantCulture);
            using var m = IJepa.Model.IJepaModel.FromPretrained(modelDir, dtype);
            if (args.Contains("--functional-linear"))
            {
                IJepa.Model.OneDnnLinear.Enabled = false;
            }
            else if (!args.Contains("--no-pack"))
            {
                m.PackWeightsForInference();
            }
            double seconds = ComputeBenchmark.Forward(m, batch, dtype, repeats);
            Console.WriteLine($"forward {dtype} batch {batch}: {batch / seconds:F3} images/s, {ComputeBenchmark.GflopPerImage(m.Config) * batch / seconds:F1} GFLOP/s");
            return 0;
        }
    case "routes":
        {
            // Interleaved at batch 8: float32 oneDNN vs nn.functional.linear, bfloat16 packed vs plain weights, ONNX Runtime.
            string onnx = Option("--onnx") ?? Path.Combine(modelDir + "-onnx", "model.onnx");
            RouteComparison.Run(modelDir, onnx, int.Parse(Option("--rounds") ?? "5", CultureInfo.InvariantCulture), Environment.ProcessorCount);
            return 0;
        }
    case "gpu-forward":
        {
            // Forward passes alone on a device (the GPU script runs this): images/s for each dtype and batch, and
            // with --profile a per-block breakdown at the first batch size >= 64 (synchronized per block).
            string device = Option("--device") ?? "cuda";
            string[] dtypes = (Option("--dtypes") ?? "float32,bfloat16").Split(',');
            int[] batches = (Option("--batches") ?? "1,64,256").Split(',').Select(b => int.Parse(b, CultureInfo.InvariantCulture)).ToArray();
            return GpuForward.Run(modelDir, device, dtypes, batches, repeats, args.Contains("--profile"));
        }
    case "pipeline":
        {
            string model = Option("--model") ?? Path.Combine(repository, "samples", "IJepa.FeatureDump", "demo-model");
            int[] workers = (Option("--workers") ?? $"1,{Environment.ProcessorCount}").Split(',').Select(w => int.Parse(w, CultureInfo.InvariantCulture)).ToArray();
            return PipelineBenchmark.Run(new PipelineBenchmark.Settings(
                Option("--photos") ?? Path.Combine(resultsDir, "tmp", "photos"), model, Option("--device") ?? "cpu", Option("--dtype") ?? "float32", workers,
                int.Parse(Option("--batch") ?? "8", CultureInfo.InvariantCulture), int.Parse(Option("--images") ?? "96", CultureInfo.InvariantCulture),
                int.Parse(Option("--rounds") ?? "3", CultureInfo.InvariantCulture), Option("--out"), args.Contains("--cosine-only")));
        }
    case "hub":
        {
            if (randomModel && !File.Exists(Path.Combine(modelDir, "model.safetensors")))
            {
                LoadBenchmark.EnsureVitHugeCheckpoint(modelDir);
            }
            return await HubBenchmark.RunAsync(new HubBenchmark.Settings(modelDir, Option("--work") ?? Path.Combine(Path.GetTempPath(), "ijepa-hub-bench"),
                int.Parse(Option("--rounds") ?? "3", CultureInfo.InvariantCulture), Option("--out")));
        }
    case "parquet-cost":
        {
            string work = Option("--work") ?? Path.Combine(resultsDir, "tmp", "parquet-cost");
            Directory.CreateDirectory(work);
            return ParquetCostBenchmark.Run(new ParquetCostBenchmark.Settings(
                Path.Combine(repository, "samples", "IJepa.FeatureDump", "bin", "Release", "net10.0", "IJepa.FeatureDump.dll"),
                Option("--model") ?? Path.Combine(repository, "samples", "IJepa.FeatureDump", "demo-model"), Path.Combine(work, "images"),
                int.Parse(Option("--images") ?? "2000", CultureInfo.InvariantCulture), int.Parse(Option("--rounds") ?? "3", CultureInfo.InvariantCulture),
                args.Contains("--patches"), Option("--threads") is { } threads ? int.Parse(threads, CultureInfo.InvariantCulture) : null, work, Option("--out")));
        }
    case "train-flops":
        return TrainingFlopsBenchmark.Run(new TrainingFlopsBenchmark.Settings(
            int.Parse(Option("--width") ?? "96", CultureInfo.InvariantCulture), int.Parse(Option("--depth") ?? "4", CultureInfo.InvariantCulture),
            int.Parse(Option("--heads") ?? "4", CultureInfo.InvariantCulture), int.Parse(Option("--predictor-width") ?? "48", CultureInfo.InvariantCulture),
            int.Parse(Option("--predictor-depth") ?? "2", CultureInfo.InvariantCulture), int.Parse(Option("--batch") ?? "128", CultureInfo.InvariantCulture),
            int.Parse(Option("--patch") ?? "4", CultureInfo.InvariantCulture), int.Parse(Option("--image-size") ?? "28", CultureInfo.InvariantCulture),
            int.Parse(Option("--steps") ?? "40", CultureInfo.InvariantCulture), int.Parse(Option("--threads") ?? $"{Environment.ProcessorCount}", CultureInfo.InvariantCulture),
            Option("--out"), [.. (Option("--precision") ?? "float32").Split(',').Select(p => Enum.Parse<IJepa.ComputeDType>(p, ignoreCase: true))]));
    case "server-load":
        return await ServerLoadBenchmark.RunAsync(new ServerLoadBenchmark.Settings(repository,
            Option("--model") ?? Path.Combine(repository, "samples", "IJepa.FeatureDump", "demo-model"),
            Option("--photos") ?? Path.Combine(resultsDir, "tmp", "photos"),
            int.Parse(Option("--requests") ?? "4000", CultureInfo.InvariantCulture), int.Parse(Option("--clients") ?? "64", CultureInfo.InvariantCulture), 0.1,
            int.Parse(Option("--overload-clients") ?? "256", CultureInfo.InvariantCulture), int.Parse(Option("--overload-queue") ?? "16", CultureInfo.InvariantCulture),
            int.Parse(Option("--overload-seconds") ?? "45", CultureInfo.InvariantCulture), Option("--out"), (Option("--phases") ?? "load,overload,sigterm").Split(','),
            (Option("--server-options") ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries)));
    case "scalar-race":
        return ScalarRaceBenchmark.Run(long.Parse(Option("--calls") ?? "3000000", CultureInfo.InvariantCulture),
            int.Parse(Option("--rounds") ?? "3", CultureInfo.InvariantCulture), Option("--child"));
    case "hub-serve":
        return await HubBenchmark.ServeAsync(modelDir);
    default:
        Console.Error.WriteLine($"unknown command '{command}' (all, load, preprocess, forward, routes, load-original, pipeline, gpu-forward, hub, parquet-topk, parquet-cost, server-load, train-flops, scalar-race)");
        return 2;
}

string? Option(string name)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}

bool Export(string model, string onnx)
{
    // Debian's python3-torch lives under /usr/bin/python3; IJEPA_PYTHON overrides.
    string python = Environment.GetEnvironmentVariable("IJEPA_PYTHON") ?? "/usr/bin/python3";
    Directory.CreateDirectory(Path.GetDirectoryName(onnx)!);
    Console.WriteLine($"exporting {model} to {onnx} with {python} ...");
    try
    {
        using var process = System.Diagnostics.Process.Start(python, [Path.Combine(repository, "bench", "onnx", "export_onnx.py"), model, onnx]);
        process.WaitForExit();
        return process.ExitCode == 0;
    }
    catch (System.ComponentModel.Win32Exception e)
    {
        Console.Error.WriteLine($"{python}: {e.Message}");
        return false;
    }
}
