using System.Diagnostics;
using System.Globalization;
using IJepa;
using IJepa.Masking;
using IJepa.Model;
using IJepa.Samples;
using IJepa.Train;
using IJepa.Training;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using TorchSharp;
using static TorchSharp.torch;

// Pretrains an I-JEPA encoder on unlabeled images, and evaluates encoders on Fashion-MNIST.
//   dotnet run --project samples/IJepa.Train -c Release -- --fashion-mnist /usr/share/datasets/fashion-mnist --out runs/fm
const string Usage = """
    usage: IJepa.Train [options] (--images DIR | --fashion-mnist DIR) --out RUN
           IJepa.Train eval --fashion-mnist DIR --model HF_DIR [--random-like RUN_OPTIONS]
      --images DIR          a folder of images (searched recursively; any size, RGB)
      --fashion-mnist DIR   Fashion-MNIST's four idx .gz files (the train split is used; gray replicated to RGB)
      --out RUN             run folder: checkpoint.pth.tar (original format), model/ (Hugging Face export), train.log
      --resume              continue from RUN/checkpoint.pth.tar with the same options
      --image-size N        model input size (default 28 with --fashion-mnist, else 224)
      --patch N             patch size (default 4 with --fashion-mnist, else 16)
      --width N --depth N --heads N       encoder sizes (default 128, 4, 4)
      --predictor-width N --predictor-depth N  (default 64, 2)
      --epochs N            epochs (default 10)     --batch N   images per step (default 128)
      --lr X                peak learning rate (default 1e-3)   --warmup-epochs N (default 1)
      --min-keep N          smallest block in patches (default 4; the paper's 10 needs a larger grid)
      --seed N              seeds everything (default 0)   --threads N  libtorch threads
      --save-every N        checkpoint every N steps (default: every epoch)
      --max-minutes M       stop after M minutes of training (saves, and exports the model as it is)
      --device D            cpu (default) or cuda
      --precision P         float32 (default) or bfloat16: mixed precision, matrix products in bfloat16
      --export-init         export the randomly initialised encoder to RUN/model and exit (a baseline)
    Ctrl+C saves a checkpoint and exits; --resume continues exactly where it stopped.
    eval prints kNN (k = 20, cosine, train split as index) and linear-probe accuracy on the 10,000 test images.
    """;

var options = new Dictionary<string, string>(StringComparer.Ordinal);
var flags = new HashSet<string>(StringComparer.Ordinal);
bool evaluate = args.Length > 0 && args[0] == "eval";
for (int i = evaluate ? 1 : 0; i < args.Length; i++)
{
    if (args[i] is "--resume" or "--help" or "-h" or "--raw-pixels" or "--export-init")
    {
        flags.Add(args[i]);
    }
    else if (args[i].StartsWith("--", StringComparison.Ordinal) && i + 1 < args.Length)
    {
        options[args[i]] = args[++i];
    }
    else
    {
        return Exit.Usage($"unexpected argument {args[i]}", Usage);
    }
}
if (flags.Contains("--help") || flags.Contains("-h"))
{
    Console.WriteLine(Usage);
    return 0;
}
string[] known = ["--images", "--fashion-mnist", "--out", "--image-size", "--patch", "--width", "--depth", "--heads", "--predictor-width", "--predictor-depth",
    "--epochs", "--batch", "--lr", "--warmup-epochs", "--min-keep", "--seed", "--threads", "--save-every", "--device", "--precision", "--max-minutes", "--model", "--random-like", "--probe-epochs"];
if (options.Keys.FirstOrDefault(k => !known.Contains(k)) is string unknown)
{
    return Exit.Usage($"unknown option {unknown}", Usage);
}
if (options.TryGetValue("--threads", out string? threads))
{
    set_num_threads(int.Parse(threads, CultureInfo.InvariantCulture));
}
int Int(string name, int fallback) => options.TryGetValue(name, out string? v) ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;
double Double(string name, double fallback) => options.TryGetValue(name, out string? v) ? double.Parse(v, CultureInfo.InvariantCulture) : fallback;
Device device = options.TryGetValue("--device", out string? deviceName) ? new Device(deviceName) : CPU;

if (evaluate)
{
    if (!options.TryGetValue("--fashion-mnist", out string? evalData))
    {
        return Exit.Usage("eval needs --fashion-mnist", Usage);
    }
    return Evaluation.Run(evalData, options.GetValueOrDefault("--model"), flags.Contains("--raw-pixels"), Int("--probe-epochs", 30), Int("--seed", 0));
}

if (!options.TryGetValue("--out", out string? run))
{
    return Exit.Usage("--out is required", Usage);
}
bool fashion = options.TryGetValue("--fashion-mnist", out string? fashionDir);
if (!fashion && !options.ContainsKey("--images"))
{
    return Exit.Usage("give --images DIR or --fashion-mnist DIR", Usage);
}

// The images, as a count and a loader of one [3, H, W] 0–1 tensor.
int count;
Func<int, Tensor> load;
if (fashion)
{
    FashionMnist data = FashionMnist.Load(fashionDir!, "train");
    count = data.Count;
    load = i => Evaluation.Gray(data, i).expand(3, -1, -1);
}
else
{
    string[] files = Directory.EnumerateFiles(options["--images"], "*", SearchOption.AllDirectories)
        .Where(f => Path.GetExtension(f).ToLowerInvariant() is ".jpg" or ".jpeg" or ".png" or ".bmp" or ".webp" or ".gif" or ".tif" or ".tiff")
        .Order(StringComparer.Ordinal).ToArray();
    if (files.Length == 0)
    {
        return Exit.Error($"no images under {options["--images"]}");
    }
    count = files.Length;
    load = i =>
    {
        using Image<Rgb24> image = Image.Load<Rgb24>(files[i]);
        byte[] pixels = new byte[image.Width * image.Height * 3];
        image.CopyPixelDataTo(pixels);
        using Tensor hwc = tensor(pixels, [image.Height, image.Width, 3]);
        using Scalar full = 255.0.ToScalar();
        return hwc.permute(2, 0, 1).to(ScalarType.Float32).div_(full);
    };
}

int batchSize = Int("--batch", 128);
int stepsPerEpoch = count / batchSize;
if (stepsPerEpoch < 1)
{
    return Exit.Error($"{count} images are fewer than one batch of {batchSize}");
}
int epochs = Int("--epochs", 10);
int heads = Int("--heads", 4);
var encoderConfig = new IJepaConfig
{
    HiddenSize = Int("--width", 128),
    NumHiddenLayers = Int("--depth", 4),
    NumAttentionHeads = heads,
    IntermediateSize = 4 * Int("--width", 128),
    PatchSize = Int("--patch", fashion ? 4 : 16),
    ImageSize = Int("--image-size", fashion ? 28 : 224),
};
ComputeDType? precision = options.GetValueOrDefault("--precision", "float32").ToLowerInvariant() switch
{
    "float32" or "fp32" => ComputeDType.Float32,
    "bfloat16" or "bf16" => ComputeDType.BFloat16,
    _ => null,
};
if (precision is null)
{
    return Exit.Usage($"--precision {options["--precision"]}: use float32 or bfloat16", Usage);
}
var trainingOptions = new IJepaTrainingOptions
{
    Encoder = encoderConfig,
    PredictorWidth = Int("--predictor-width", 64),
    PredictorDepth = Int("--predictor-depth", 2),
    BatchSize = batchSize,
    TotalSteps = (long)epochs * stepsPerEpoch,
    WarmupSteps = (long)Math.Round(Double("--warmup-epochs", 1) * stepsPerEpoch),
    LearningRate = Double("--lr", 1e-3),
    StartLearningRate = Double("--lr", 1e-3) / 5,
    Masks = new MultiBlockMaskOptions { MinKeep = Int("--min-keep", 4) },
    Seed = Int("--seed", 0),
    Precision = precision.Value,
};
if (trainingOptions.Validate() is { Count: > 0 } problems)
{
    return Exit.Usage(string.Join("; ", problems), Usage);
}

Directory.CreateDirectory(run);
string checkpoint = Path.Combine(run, "checkpoint.pth.tar");
using var log = new StreamWriter(Path.Combine(run, "train.log"), append: true) { AutoFlush = true };
void Log(string line)
{
    Console.WriteLine(line);
    log.WriteLine(line);
}

using IJepaTrainer trainer = flags.Contains("--resume")
    ? IJepaTrainer.Resume(checkpoint, trainingOptions, device)
    : IJepaTrainer.Create(trainingOptions, device);
if (flags.Contains("--export-init"))
{
    // The same architecture at its random initialisation: the baseline a trained model must beat.
    trainer.ExportTargetEncoder(Path.Combine(run, "model"));
    Console.WriteLine($"exported the initial target encoder to {Path.Combine(run, "model")}");
    return 0;
}
Log($"# {DateTime.UtcNow:u} IJepa.Train {string.Join(' ', args)}");
Log($"# {count} images, {stepsPerEpoch} steps/epoch, {trainingOptions.TotalSteps} steps, {get_num_threads()} threads, starting at step {trainer.StepCount}");

bool stop = false;
Console.CancelKeyPress += (_, e) =>
{
    // The first Ctrl+C finishes the current step, saves and exits; a second one kills as usual.
    if (!stop)
    {
        e.Cancel = true;
        stop = true;
        Console.Error.WriteLine("stopping after this step: saving a checkpoint ...");
    }
};
int saveEvery = Int("--save-every", stepsPerEpoch);
var clock = Stopwatch.StartNew();
long startStep = trainer.StepCount;
double smoothed = double.NaN;
double maxMinutes = Double("--max-minutes", double.PositiveInfinity);
bool outOfTime = false;
while (trainer.StepCount < trainingOptions.TotalSteps && !stop && !(outOfTime = clock.Elapsed.TotalMinutes >= maxMinutes))
{
    long step = trainer.StepCount;
    int epoch = (int)(step / stepsPerEpoch);
    int[] order = TrainingImages.EpochOrder(count, trainingOptions.Seed, epoch);
    int offset = (int)(step % stepsPerEpoch) * batchSize;
    var images = new List<Tensor>(batchSize);
    IJepaTrainingStep result;
    try
    {
        for (int i = 0; i < batchSize; i++)
        {
            images.Add(load(order[offset + i]));
        }
        using Tensor batch = TrainingImages.Batch(images, trainingOptions, step);
        result = trainer.Step(batch);
    }
    finally
    {
        foreach (Tensor image in images)
        {
            image.Dispose();
        }
    }
    smoothed = double.IsNaN(smoothed) ? result.Loss : (0.98 * smoothed) + (0.02 * result.Loss);
    long done = trainer.StepCount - startStep;
    double rate = done * batchSize / clock.Elapsed.TotalSeconds;
    if (trainer.StepCount % 20 == 0 || trainer.StepCount == trainingOptions.TotalSteps)
    {
        TimeSpan eta = TimeSpan.FromSeconds((trainingOptions.TotalSteps - trainer.StepCount) * batchSize / Math.Max(rate, 1e-9));
        Log(string.Create(CultureInfo.InvariantCulture,
            $"step {trainer.StepCount}/{trainingOptions.TotalSteps} epoch {epoch + 1} loss {result.Loss:F5} (avg {smoothed:F5}) lr {result.LearningRate:E3} wd {result.WeightDecay:F3} ema {result.Momentum:F5} {rate:F1} img/s eta {eta:hh\\:mm\\:ss}"));
    }
    if (trainer.StepCount % saveEvery == 0)
    {
        trainer.SaveCheckpoint(checkpoint, (int)(trainer.StepCount / stepsPerEpoch));
    }
}
trainer.SaveCheckpoint(checkpoint, (int)(trainer.StepCount / stepsPerEpoch));
Log($"# saved {checkpoint} at step {trainer.StepCount} after {clock.Elapsed:hh\\:mm\\:ss}");
if (trainer.StepCount >= trainingOptions.TotalSteps || outOfTime)
{
    string model = Path.Combine(run, "model");
    trainer.ExportTargetEncoder(model);
    Log($"# exported the target encoder to {model}");
}
return 0;
