using System.Diagnostics;
using System.Globalization;
using IJepa;
using IJepa.Checkpoints;
using IJepa.FeatureDump;
using IJepa.Samples;
using IJepa.Model;
using IJepa.Preprocessing;

// Dumps I-JEPA features of images to .safetensors, .npy, .jsonl or a resumable, shardable Parquet dataset.
//   dotnet run --project samples/IJepa.FeatureDump -c Release -- [options] <image files or folders>...
const string Usage = """
    usage: IJepa.FeatureDump [options] <image files or folders>...
      --model M        Hugging Face I-JEPA folder, or hub id (facebook/ijepa_vith14_1k[@revision]) fetched into the
                       Hugging Face cache (default: the samples' model trained on Fashion-MNIST, 28 px)
      --out FILE       features.safetensors (default), .npy (pooled) or .jsonl (path + pooled per line)
      --patches        also write patch embeddings ("patches" [N,T,D], safetensors only)
      --batch N        images per forward pass (default 8)
      --device D       cpu, cuda, cuda:N (default cpu)
      --dtype T        float32, bfloat16, float16 (default float32)
      --threads N      libtorch threads (default: one per core)
      --preset P       hf (default: the model's preprocessor_config.json) or paper
      --strict         stop at the first image that cannot be read
      --sha256 HEX     refuse the model unless its model.safetensors has this SHA-256 (the hub lists it)
    """ + "\n" + ParquetDump.Usage + RuntimeArguments.Usage;

var positional = new List<string>();
var options = new Dictionary<string, string>(StringComparer.Ordinal);
var flags = new HashSet<string>(StringComparer.Ordinal);
string[] valued = ["--model", "--out", "--batch", "--device", "--dtype", "--threads", "--preset", "--sha256", "--make-demo-model", "--libtorch", "--workers", "--backend", "--shard", "--part-rows"];
for (int i = 0; i < args.Length; i++)
{
    if (valued.Contains(args[i]))
    {
        if (i + 1 >= args.Length)
        {
            return Exit.Usage($"{args[i]} needs a value", Usage);
        }
        options[args[i]] = args[++i];
    }
    else if (args[i] is "--patches" or "--strict" or "--fast-decode" or "--restart" or "--help" or "-h")
    {
        flags.Add(args[i]);
    }
    else if (args[i].StartsWith("--", StringComparison.Ordinal))
    {
        return Exit.Usage($"unknown option {args[i]}", Usage);
    }
    else
    {
        positional.Add(args[i]);
    }
}
if (flags.Contains("--help") || flags.Contains("-h"))
{
    Console.WriteLine(Usage);
    return 0;
}
if (RuntimeArguments.ApplyLibTorch(options.GetValueOrDefault("--libtorch")) is int libtorchFailure)
{
    return libtorchFailure;
}
if (options.TryGetValue("--make-demo-model", out string? demoTarget))
{
    // How demo-model/ was made: a small ViT (patch 16 at 224 px, width 64, 2 blocks) with random weights. The samples
    // default to samples/models/fashion-mnist now; the benchmarks and the fuzzer still use this one at 224 px.
    var config = new IJepaConfig { HiddenSize = 64, NumHiddenLayers = 2, NumAttentionHeads = 4, IntermediateSize = 256, PatchSize = 16, ImageSize = 224 };
    using IJepaModel demo = IJepaModel.Create(config);
    demo.InitializeRandom(seed: 2023);
    demo.SavePretrained(demoTarget);
    Console.WriteLine($"wrote {demoTarget}");
    return 0;
}
if (positional.Count == 0)
{
    return Exit.Usage("no images given", Usage);
}

string? modelDir = options.GetValueOrDefault("--model");
bool demoModel = modelDir is null;
modelDir ??= Path.Combine(AppContext.BaseDirectory, "default-model");
string output = options.GetValueOrDefault("--out") ?? "features.safetensors";
bool patches = flags.Contains("--patches");
bool strict = flags.Contains("--strict");

List<string> files;
try
{
    files = ImageFiles.Collect(positional);
}
catch (IOException e)
{
    return Exit.Usage(e.Message, Usage);
}
if (files.Count == 0)
{
    return Exit.Usage("no image files found", Usage);
}

IJepaEncoderOptions encoderOptions;
try
{
    encoderOptions = new IJepaEncoderOptions
    {
        BatchSize = int.Parse(options.GetValueOrDefault("--batch") ?? "8", CultureInfo.InvariantCulture),
        Device = options.GetValueOrDefault("--device") ?? "cpu",
        DType = (options.GetValueOrDefault("--dtype") ?? "float32") switch
        {
            "float32" => ComputeDType.Float32,
            "bfloat16" => ComputeDType.BFloat16,
            "float16" => ComputeDType.Float16,
            var other => throw new FormatException($"unknown dtype '{other}'"),
        },
        Threads = options.TryGetValue("--threads", out string? t) ? int.Parse(t, CultureInfo.InvariantCulture) : null,
        Preprocessing = (options.GetValueOrDefault("--preset") ?? "hf") switch
        {
            "hf" => null,
            "paper" => PreprocessingOptions.Paper(),
            var other => throw new FormatException($"unknown preset '{other}' (hf, paper)"),
        },
        IncludePatches = patches,
        Workers = RuntimeArguments.Workers(options.GetValueOrDefault("--workers")),
        Decoding = RuntimeArguments.Decoding(flags.Contains("--fast-decode")),
        Backend = RuntimeArguments.Backend(options.GetValueOrDefault("--backend")),
        ExpectedSha256 = options.TryGetValue("--sha256", out string? sha) ? new Dictionary<string, string> { ["model.safetensors"] = sha } : null,
        Hub = new IJepa.Hub.HubOptions { Progress = new DownloadProgress() },
    };
}
catch (FormatException e)
{
    return Exit.Usage(e.Message, Usage);
}

if (ParquetDump.Handles(output))
{
    try
    {
        return await ParquetDump.RunAsync(new ParquetDump.Settings(positional, files, output, modelDir, encoderOptions, options.GetValueOrDefault("--shard"),
            options.GetValueOrDefault("--part-rows"), flags.Contains("--restart"), strict, patches), Usage);
    }
    catch (Exception e) when (e is IOException or UnauthorizedAccessException or IJepaCheckpointException or IJepaRuntimeException)
    {
        return Exit.Error(e.Message);
    }
}

try
{
    FeatureWriter.CheckWritable(output);
}
catch (ArgumentException e)
{
    return Exit.Usage(e.Message, Usage);
}
catch (IOException e)
{
    return Exit.Error(e.Message);
}

if (demoModel)
{
    Console.WriteLine("note: no --model given: using the samples' default model, a small I-JEPA trained in .NET on Fashion-MNIST (28 px gray clothing images, samples/models/fashion-mnist). For photos pass --model (e.g. facebook/ijepa_vith14_1k).");
}

try
{
    using IJepaEncoder encoder = IJepaEncoder.Load(modelDir, encoderOptions);
    Console.WriteLine($"model {encoder.ModelId} (dim {encoder.Dimension}) on {encoder.Model.Device}, {files.Count} images, preprocessing: {encoder.Preprocessor.Options}"
        + (IJepaRuntime.LibTorchDirectory is { } libtorch ? $", libtorch from {libtorch}" : ""));
    var rows = new List<ImageEmbedding>(files.Count);
    int failures = 0, done = 0;
    var progress = new Progress(files.Count, Console.IsOutputRedirected);
    var watch = Stopwatch.StartNew();
    await foreach (EncodeResult result in encoder.EncodeAsync(files.Select(ImageInput.FromFile).ToAsyncEnumerable()))
    {
        done++;
        if (result.Error is { } error)
        {
            failures++;
            progress.Clear();
            Console.Error.WriteLine($"failed: {error.Message}");
            if (strict)
            {
                Console.Error.WriteLine("--strict: stopping at the first failure; no output written.");
                return 1;
            }
        }
        else
        {
            rows.Add(result.Embedding!);
        }
        progress.Report(done, watch.Elapsed, failures);
    }
    progress.Clear();
    if (rows.Count > 0)
    {
        FeatureWriter.Write(output, encoder.ModelId, rows, patches);
    }
    double seconds = watch.Elapsed.TotalSeconds;
    Console.WriteLine($"done: {rows.Count} images encoded, {failures} failed, {files.Count / Math.Max(seconds, 1e-9):F1} images/s, {seconds:F1} s" +
        (rows.Count > 0 ? $", wrote {Path.GetFullPath(output)}" : ", nothing written"));
    return failures > 0 ? 1 : 0;
}
catch (Exception e) when (e is IOException or ArgumentException or UnauthorizedAccessException or IJepaCheckpointException or IJepaRuntimeException)
{
    return Exit.Error(e.Message);
}
