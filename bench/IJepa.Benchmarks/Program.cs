using IJepa.Benchmarks;

// IJepa benchmarks. Usage:
//   dotnet run --project bench/IJepa.Benchmarks -c Release -- load [--model DIR] [--repeats N]
//   dotnet run --project bench/IJepa.Benchmarks -c Release -- preprocess [--image FILE] [--repeats N]
// Without --model, a random full-size ViT-H/14 checkpoint is written to bench/results/tmp/vith14 first.
string command = args.Length > 0 ? args[0] : "load";
string? model = Option("--model");
int repeats = int.Parse(Option("--repeats") ?? "5", System.Globalization.CultureInfo.InvariantCulture);
string resultsDir = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "../../../../../bench/results"));

switch (command)
{
    case "load":
        {
            string directory = model ?? Path.Combine(resultsDir, "tmp", "vith14");
            if (model is null && !File.Exists(Path.Combine(directory, "model.safetensors")))
            {
                LoadBenchmark.EnsureVitHugeCheckpoint(directory);
                Console.WriteLine("checkpoint written; run the command again to measure in a fresh process");
                return 0;
            }
            LoadBenchmark.Result r = LoadBenchmark.Measure(directory, repeats);
            Console.WriteLine($"checkpoint           {r.FileBytes / 1e9:F3} GB");
            Console.WriteLine($"baseline RSS         {r.BaselineRss / 1e9:F3} GB");
            Console.WriteLine($"peak RSS above base  {r.PeakRssAbove / 1e9:F3} GB  = {r.PeakRatio:F3} x checkpoint (target <= 1.15)");
            Console.WriteLine($"load time (median)   {r.LoadSeconds:F2} s");
            Console.WriteLine($"read file once       {r.ReadSeconds:F2} s  -> load / read = {r.TimeRatio:F2} (target <= 2)");
            return 0;
        }
    case "preprocess":
        {
            string image = Option("--image") ?? Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "../../../../../tests/reference/images/input/photo_flower_1024x768.jpg"));
            var preprocessor = new IJepa.Preprocessing.ImagePreprocessor(IJepa.Preprocessing.PreprocessingOptions.HuggingFaceDefault);
            byte[] bytes = File.ReadAllBytes(image);
            var inputs = Enumerable.Range(0, 64).Select(i => IJepa.Preprocessing.ImageInput.FromBytes(bytes, $"copy {i}")).ToArray();
            using (preprocessor.PreprocessBatch(inputs[..8]))
            {
            }
            var rates = new List<double>();
            for (int r = 0; r < repeats; r++)
            {
                var watch = System.Diagnostics.Stopwatch.StartNew();
                using (preprocessor.PreprocessBatch(inputs))
                {
                }
                rates.Add(inputs.Length / watch.Elapsed.TotalSeconds);
            }
            Console.WriteLine($"preprocess {Path.GetFileName(image)} (decode + resize 224 + normalize), {Environment.ProcessorCount} cores: median {rates.Order().ElementAt(repeats / 2):F1} images/s (target >= 100)");
            return 0;
        }
    default:
        Console.Error.WriteLine($"unknown command '{command}' (load, preprocess)");
        return 2;
}

string? Option(string name)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}
