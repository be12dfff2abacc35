using System.Globalization;
using IJepa;
using IJepa.Preprocessing;
using IJepa.Samples;
using IJepa.Similarity;

// Indexes a folder of images and prints the images most similar to each query (cosine of pooled embeddings).
//   dotnet run --project samples/IJepa.Similarity -c Release -- [options] <folder> <query image>...
const string Usage = """
    usage: IJepa.Similarity [options] <folder> <query image>...
      --model M      Hugging Face I-JEPA folder, or hub id (facebook/ijepa_vith14_1k[@revision]) fetched into the
                     Hugging Face cache (default: the samples' model trained on Fashion-MNIST)
      -k N           how many neighbours to print (default 5)
      --index FILE   keep the folder's embeddings in FILE (JSON) and reuse them while the files are unchanged
      --batch N      images per forward pass (default 8)
      --threads N    libtorch threads (default: one per core)
      --device D     cpu, cuda, cuda:N (default cpu)
    """ + "\n" + RuntimeArguments.Usage;

var positional = new List<string>();
var options = new Dictionary<string, string>(StringComparer.Ordinal);
for (int i = 0; i < args.Length; i++)
{
    if (args[i] is "--model" or "-k" or "--index" or "--batch" or "--threads" or "--device" or "--libtorch" or "--workers" or "--backend")
    {
        if (i + 1 >= args.Length)
        {
            return Exit.Usage($"{args[i]} needs a value", Usage);
        }
        options[args[i]] = args[++i];
    }
    else if (args[i] == "--fast-decode")
    {
        options[args[i]] = "";
    }
    else if (args[i] is "--help" or "-h")
    {
        Console.WriteLine(Usage);
        return 0;
    }
    else if (args[i].StartsWith('-'))
    {
        return Exit.Usage($"unknown option {args[i]}", Usage);
    }
    else
    {
        positional.Add(args[i]);
    }
}
if (positional.Count < 2)
{
    return Exit.Usage("give a folder to index and at least one query image", Usage);
}
if (!int.TryParse(options.GetValueOrDefault("-k") ?? "5", CultureInfo.InvariantCulture, out int k) || k < 1
    || !int.TryParse(options.GetValueOrDefault("--batch") ?? "8", CultureInfo.InvariantCulture, out int batch) || batch < 1)
{
    return Exit.Usage("-k and --batch take positive integers", Usage);
}
int? threads = null;
if (options.TryGetValue("--threads", out string? t))
{
    if (!int.TryParse(t, CultureInfo.InvariantCulture, out int n) || n < 1)
    {
        return Exit.Usage("--threads takes a positive integer", Usage);
    }
    threads = n;
}

int? workers;
PreprocessingBackend? backend;
try
{
    workers = RuntimeArguments.Workers(options.GetValueOrDefault("--workers"));
    backend = RuntimeArguments.Backend(options.GetValueOrDefault("--backend"));
}
catch (FormatException e)
{
    return Exit.Usage(e.Message, Usage);
}
if (RuntimeArguments.ApplyLibTorch(options.GetValueOrDefault("--libtorch")) is int libtorchFailure)
{
    return libtorchFailure;
}

string? modelDir = options.GetValueOrDefault("--model");
if (modelDir is null)
{
    modelDir = Path.Combine(AppContext.BaseDirectory, "default-model");
    Console.WriteLine("note: no --model given: using the samples' default model, a small I-JEPA trained in .NET on Fashion-MNIST (28 px gray clothing images, samples/models/fashion-mnist). For photos pass --model (e.g. facebook/ijepa_vith14_1k).");
}
string? indexPath = options.GetValueOrDefault("--index");

try
{
    List<string> folderFiles = ImageFiles.Collect([positional[0]]);
    using IJepaEncoder encoder = IJepaEncoder.Load(modelDir, new IJepaEncoderOptions
    {
        BatchSize = batch,
        Threads = threads,
        IncludePatches = false,
        Device = options.GetValueOrDefault("--device") ?? "cpu",
        Workers = workers,
        Decoding = RuntimeArguments.Decoding(options.ContainsKey("--fast-decode")),
        Backend = backend,
        Hub = new IJepa.Hub.HubOptions { Progress = new DownloadProgress() },
    });

    // Embeddings made with another backend or the fast decode differ slightly: an index holds one preprocessing only.
    string indexModel = $"{encoder.ModelId} | {encoder.Preprocessor.Options}";
    EmbeddingIndex? saved = indexPath is null ? null : EmbeddingIndex.TryLoad(indexPath, indexModel, encoder.Dimension);
    Dictionary<string, IndexEntry> reusable = (saved?.Entries ?? []).Where(EmbeddingIndex.IsCurrent).ToDictionary(e => e.Path, StringComparer.Ordinal);
    var entries = new List<IndexEntry>(folderFiles.Count);
    var toEncode = new List<string>();
    foreach (string file in folderFiles)
    {
        if (reusable.TryGetValue(Path.GetFullPath(file), out IndexEntry? entry))
        {
            entries.Add(entry);
        }
        else
        {
            toEncode.Add(file);
        }
    }

    int failures = 0;
    var progress = new Progress(Math.Max(toEncode.Count, 1), Console.IsOutputRedirected);
    var watch = System.Diagnostics.Stopwatch.StartNew();
    int done = 0;
    await foreach (EncodeResult result in encoder.EncodeAsync(toEncode.Select(ImageInput.FromFile).ToAsyncEnumerable()))
    {
        done++;
        if (result.Error is { } error)
        {
            failures++;
            progress.Clear();
            Console.Error.WriteLine($"skipped: {error.Message}");
        }
        else
        {
            entries.Add(EmbeddingIndex.Entry(result.Input.Name, result.Embedding!.Pooled));
        }
        progress.Report(done, watch.Elapsed);
    }
    progress.Clear();
    var index = new EmbeddingIndex(indexModel, encoder.Dimension, entries);
    Console.WriteLine($"index: {entries.Count} images ({toEncode.Count - failures} encoded, {entries.Count - (toEncode.Count - failures)} reused, {failures} skipped)");
    if (indexPath is not null)
    {
        index.Save(indexPath);
    }
    if (entries.Count == 0)
    {
        return Exit.Error($"no usable images in {positional[0]}");
    }

    foreach (string query in positional.Skip(1))
    {
        ImageEmbedding embedding;
        try
        {
            embedding = encoder.Encode(query);
        }
        catch (ImageDecodeException e)
        {
            failures++;
            Console.Error.WriteLine($"query failed: {e.Message}");
            continue;
        }
        // Matches print relative to the working directory; so does the query, however it was given.
        Console.WriteLine($"query {Path.GetRelativePath(Environment.CurrentDirectory, Path.GetFullPath(query))}");
        int rank = 0;
        foreach ((IndexEntry entry, float score) in index.Nearest(embedding.Pooled, k))
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {++rank,2}. {score,7:F4}  {Path.GetRelativePath(Environment.CurrentDirectory, entry.Path)}"));
        }
    }
    return failures > 0 ? 1 : 0;
}
catch (Exception e) when (e is IOException or ArgumentException or UnauthorizedAccessException or InvalidDataException or IJepa.Checkpoints.IJepaCheckpointException or IJepaRuntimeException)
{
    return Exit.Error(e.Message);
}
