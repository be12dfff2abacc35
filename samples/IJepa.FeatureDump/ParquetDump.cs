using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using IJepa.Checkpoints;
using IJepa.Parquet;
using IJepa.Preprocessing;
using IJepa.Samples;

namespace IJepa.FeatureDump;

/// <summary>
/// FeatureDump's <c>--out *.parquet</c>: a dataset folder written by <see cref="ShardedParquetOutput"/>, resumed
/// when rerun, optionally one shard of several (<c>--shard</c>).
/// </summary>
internal static class ParquetDump
{
    public const string Usage = """
          --out DIR.parquet  a Parquet dataset folder: resumable part files, one row per image (see README)
          --shard S        i/N: this process's stable share of the inputs; auto (Slurm job array) or auto/N (Kubernetes Indexed Job)
          --part-rows N    rows per part file, the most a crash can lose (default 1024)
          --restart        discard this shard's earlier parts instead of resuming them
        """;

    public static bool Handles(string output) =>
        Path.GetExtension(Path.TrimEndingDirectorySeparator(output)).Equals(".parquet", StringComparison.OrdinalIgnoreCase);

    public sealed record Settings(
        IReadOnlyList<string> Roots, IReadOnlyList<string> Files, string Output, string ModelDirectory,
        IJepaEncoderOptions EncoderOptions, string? Shard, string? PartRows, bool Restart, bool Strict, bool Patches);

    private sealed record Facts(long Size, string Sha256);

    public static async Task<int> RunAsync(Settings settings, string usage)
    {
        Shard shard;
        int partRows;
        List<(string Key, string File)> owned;
        try
        {
            shard = settings.Shard is { } spec ? Shard.Parse(spec) : Shard.All;
            partRows = settings.PartRows is { } rows ? int.Parse(rows, NumberStyles.None, CultureInfo.InvariantCulture) : 1024;
            if (partRows < 1)
            {
                throw new FormatException("--part-rows must be at least 1");
            }
            owned = [.. Keys(settings.Roots, settings.Files).Where(p => shard.Owns(p.Key))];
        }
        catch (FormatException e)
        {
            return Exit.Usage(e.Message, usage);
        }
        catch (ArgumentException e)
        {
            return Exit.Usage(e.Message, usage);
        }

        using IJepaEncoder encoder = IJepaEncoder.Load(settings.ModelDirectory, settings.EncoderOptions);
        var parquetOptions = new EmbeddingParquetOptions
        {
            Dimension = encoder.Dimension,
            PatchTokens = settings.Patches ? encoder.Model.Config.NumPatches : 0,
            ModelId = encoder.ModelId,
            Revision = Revision(settings.ModelDirectory),
        };
        // What else changes the numbers: a resumed run must not mix rows made differently.
        string valueSettings = $"dtype={settings.EncoderOptions.DType}; preprocessing={encoder.Preprocessor.Options}";
        using ShardedParquetOutput output = ShardedParquetOutput.Open(settings.Output, shard, parquetOptions, valueSettings, partRows, settings.Restart);
        var todo = owned.Where(p => !output.Done.Contains(p.Key)).ToList();
        Console.WriteLine($"model {encoder.ModelId} (dim {encoder.Dimension}) on {encoder.Model.Device}; shard {shard}: {owned.Count} of {settings.Files.Count} images, "
            + $"{owned.Count - todo.Count} done by earlier runs, {todo.Count} to do; writing {output.Folder}");

        // Each file is read once: its size and SHA-256 come from the same bytes the decoder then reads, and its width
        // and height from the decoder itself (ImageEmbedding.SourceWidth/Height), so no header is parsed twice.
        // The pipeline's input reader does it, one file at a time ahead of the decoders; the facts are looked up by the
        // result's input, so nothing depends on ordering. (Reading on parallel tasks instead measured 7-8 % slower on
        // this project's 2-core benchmark machine: bench/results/2026-11-30-parquet-cost.txt.)
        var facts = new ConcurrentDictionary<ImageInput, Facts>(ReferenceEqualityComparer.Instance);
        int done = 0, failures = 0;
        var progress = new Progress(Math.Max(todo.Count, 1), Console.IsOutputRedirected);
        var watch = Stopwatch.StartNew();
        await foreach (EncodeResult result in encoder.EncodeAsync(todo.Select(p => Read(p.File, facts)).ToAsyncEnumerable()))
        {
            string key = todo[done++].Key;
            facts.TryRemove(result.Input, out Facts? f);
            // A file unreadable when listed but decodable a moment later has no size or hash to record: not a row.
            string? failure = result.Error?.Message ?? (f is null ? $"{result.Input.Name}: the file could not be read for its size and SHA-256" : null);
            if (failure is not null)
            {
                failures++;
                progress.Clear();
                Console.Error.WriteLine($"failed: {failure}");
                output.AddFailure(key, failure);
                if (settings.Strict)
                {
                    output.Commit();
                    Console.Error.WriteLine("--strict: stopping at the first failure; the parts written so far are kept and a rerun resumes.");
                    return 1;
                }
            }
            else
            {
                ImageEmbedding e = result.Embedding!;
                output.Add(new EmbeddingRecord(key, f!.Size, f.Sha256, e.SourceWidth, e.SourceHeight, e.Pooled, settings.Patches ? e.Patches : null));
            }
            progress.Report(done, watch.Elapsed, failures);
        }
        progress.Clear();
        output.Complete();
        double seconds = watch.Elapsed.TotalSeconds;
        Console.WriteLine($"done: shard {shard}: {done - failures} images encoded, {failures} failed, {done / Math.Max(seconds, 1e-9):F1} images/s, {seconds:F1} s; "
            + $"{output.CommittedRows} rows in {output.Folder}, {output.Failed.Count} failed in all");
        foreach ((string key, string reason) in output.Failed.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            Console.WriteLine($"  failed: {key}: {reason}");
        }
        return output.Failed.Count > 0 ? 1 : 0;
    }

    /// <summary>
    /// Each file's key: its path relative to the folder argument it was found under ('/' separators), or its file
    /// name when it was named directly. Keys, not absolute paths, decide shards, so machines that mount the images
    /// in different places agree.
    /// </summary>
    internal static IEnumerable<(string Key, string File)> Keys(IReadOnlyList<string> roots, IReadOnlyList<string> files)
    {
        string[] folders = [.. roots.Where(Directory.Exists).Select(r => Path.TrimEndingDirectorySeparator(r) + Path.DirectorySeparatorChar)];
        var seen = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string file in files)
        {
            string? folder = folders.FirstOrDefault(f => file.StartsWith(f, StringComparison.Ordinal));
            string key = (folder is null ? Path.GetFileName(file) : file[folder.Length..]).Replace(Path.DirectorySeparatorChar, '/');
            if (!seen.TryAdd(key, file))
            {
                throw new ArgumentException($"{seen[key]} and {file} have the same relative path '{key}'; rows are keyed by it, give one folder or rename one");
            }
            yield return (key, file);
        }
    }

    /// <summary>The file as an input over its bytes, its facts recorded; by path when it cannot be read (the decoder then says why).</summary>
    private static ImageInput Read(string file, ConcurrentDictionary<ImageInput, Facts> facts)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return ImageInput.FromFile(file);
        }
        var input = ImageInput.FromFile(file, bytes); // decoded as the file, not as loose bytes (Pillow tells them apart)
        facts[input] = new Facts(bytes.LongLength, Convert.ToHexStringLower(SHA256.HashData(bytes)));
        return input;
    }

    /// <summary>
    /// The Hub commit when the folder came from <c>huggingface-cli download --local-dir</c> (it records it), else
    /// "sha256:" and the weights' hash, else null.
    /// </summary>
    internal static string? Revision(string modelDirectory)
    {
        string recorded = Path.Combine(modelDirectory, ".cache", "huggingface", "download", "model.safetensors.metadata");
        if (File.Exists(recorded) && File.ReadLines(recorded).FirstOrDefault() is { Length: > 0 } commit)
        {
            return commit.Trim();
        }
        string weights = Path.Combine(modelDirectory, "model.safetensors");
        return File.Exists(weights) ? "sha256:" + CheckpointIntegrity.ComputeSha256(weights) : null;
    }
}
