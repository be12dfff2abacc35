using System.Text.Json;
using IJepa.Model;

namespace IJepa.Checkpoints;

/// <summary>
/// A Hugging Face model folder: <c>config.json</c> and the weights, either one
/// <c>model.safetensors</c> or shards listed by <c>model.safetensors.index.json</c>. Opening it
/// validates the config, every safetensors header and the index; tensor data is read only when loaded.
/// </summary>
internal sealed class HuggingFaceCheckpoint : IDisposable
{
    public const string ConfigFile = "config.json";
    public const string WeightsFile = "model.safetensors";
    public const string IndexFile = "model.safetensors.index.json";

    private readonly List<SafetensorsFile> _files;
    private readonly Dictionary<string, (SafetensorsFile File, SafetensorsTensorInfo Info)> _tensors;

    private HuggingFaceCheckpoint(string directory, IJepaConfig config, string weightsDescription, List<SafetensorsFile> files,
        Dictionary<string, (SafetensorsFile, SafetensorsTensorInfo)> tensors)
    {
        Directory = directory;
        Config = config;
        WeightsDescription = weightsDescription;
        _files = files;
        _tensors = tensors;
    }

    /// <summary>The folder.</summary>
    public string Directory { get; }

    /// <summary>The parsed config.json.</summary>
    public IJepaConfig Config { get; }

    /// <summary>The weights file, or the index file for shards: the path errors name.</summary>
    public string WeightsDescription { get; }

    /// <summary>Tensor names in the checkpoint, as stored.</summary>
    public IEnumerable<string> TensorNames => _tensors.Keys;

    /// <summary>Total bytes of tensor data.</summary>
    public long TotalBytes => _tensors.Values.Sum(t => t.Info.ByteLength);

    public bool TryGet(string name, out SafetensorsFile file, out SafetensorsTensorInfo info)
    {
        if (_tensors.TryGetValue(name, out var entry))
        {
            (file, info) = entry;
            return true;
        }
        file = null!;
        info = null!;
        return false;
    }

    public static HuggingFaceCheckpoint Open(string directory)
    {
        string folder = Path.GetFullPath(directory);
        if (!System.IO.Directory.Exists(folder))
        {
            throw new IJepaCheckpointException(folder, "the model folder does not exist");
        }
        string configPath = Path.Combine(folder, ConfigFile);
        if (!File.Exists(configPath))
        {
            throw new IJepaCheckpointException(folder, $"no {ConfigFile} in the model folder");
        }
        IJepaConfig config = IJepaConfig.Load(configPath);

        string single = Path.Combine(folder, WeightsFile);
        string index = Path.Combine(folder, IndexFile);
        if (File.Exists(single))
        {
            SafetensorsFile file = SafetensorsFile.Open(single);
            var tensors = file.Tensors.Values.ToDictionary(t => t.Name, t => (file, t), StringComparer.Ordinal);
            return new HuggingFaceCheckpoint(folder, config, single, [file], tensors);
        }
        if (File.Exists(index))
        {
            return OpenSharded(folder, config, index);
        }
        string hint = File.Exists(Path.Combine(folder, "pytorch_model.bin"))
            ? " (it holds pytorch_model.bin: convert it to safetensors first)"
            : "";
        throw new IJepaCheckpointException(folder, $"neither {WeightsFile} nor {IndexFile} is in the model folder{hint}");
    }

    private static HuggingFaceCheckpoint OpenSharded(string folder, IJepaConfig config, string indexPath)
    {
        Dictionary<string, string> weightMap = ReadWeightMap(indexPath);
        var problems = new List<string>();
        var files = new List<SafetensorsFile>();
        var tensors = new Dictionary<string, (SafetensorsFile, SafetensorsTensorInfo)>(StringComparer.Ordinal);
        try
        {
            foreach (string shardName in weightMap.Values.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
            {
                if (shardName.Length == 0 || shardName != Path.GetFileName(shardName) || shardName is "." or "..")
                {
                    problems.Add($"shard '{shardName}' is not a plain file name in the model folder");
                    continue;
                }
                string shardPath = Path.Combine(folder, shardName);
                if (!File.Exists(shardPath))
                {
                    problems.Add($"shard '{shardName}' is listed but missing");
                    continue;
                }
                SafetensorsFile shard = SafetensorsFile.Open(shardPath);
                files.Add(shard);
                foreach (SafetensorsTensorInfo info in shard.Tensors.Values)
                {
                    if (!weightMap.TryGetValue(info.Name, out string? mapped))
                    {
                        problems.Add($"'{info.Name}' is in {shardName} but not in the index");
                    }
                    else if (mapped != shardName)
                    {
                        problems.Add($"'{info.Name}' is in {shardName}, but the index places it in {mapped}");
                    }
                    else
                    {
                        tensors.Add(info.Name, (shard, info));
                    }
                }
            }
            foreach ((string name, string shardName) in weightMap)
            {
                if (!tensors.ContainsKey(name) && files.Any(f => Path.GetFileName(f.Path) == shardName))
                {
                    problems.Add($"'{name}' is indexed in {shardName} but that shard does not hold it");
                }
            }
            if (problems.Count > 0)
            {
                throw new IJepaCheckpointException(indexPath, problems);
            }
            return new HuggingFaceCheckpoint(folder, config, indexPath, files, tensors);
        }
        catch
        {
            foreach (SafetensorsFile file in files)
            {
                file.Dispose();
            }
            throw;
        }
    }

    private static Dictionary<string, string> ReadWeightMap(string indexPath)
    {
        try
        {
            var info = new FileInfo(indexPath);
            if (info.Length > 64L * 1024 * 1024)
            {
                throw new IJepaCheckpointException(indexPath, $"the index is {info.Length} bytes, too large to be a weight map");
            }
            using JsonDocument document = JsonDocument.Parse(File.ReadAllBytes(indexPath));
            if (document.RootElement.ValueKind != JsonValueKind.Object
                || !document.RootElement.TryGetProperty("weight_map", out JsonElement map)
                || map.ValueKind != JsonValueKind.Object)
            {
                throw new IJepaCheckpointException(indexPath, "the index has no weight_map object");
            }
            var result = new Dictionary<string, string>(StringComparer.Ordinal);
            var problems = new List<string>();
            foreach (JsonProperty entry in map.EnumerateObject())
            {
                if (entry.Value.ValueKind != JsonValueKind.String)
                {
                    problems.Add($"weight_map['{entry.Name}'] is not a file name");
                }
                else if (!result.TryAdd(entry.Name, entry.Value.GetString()!))
                {
                    problems.Add($"weight_map lists '{entry.Name}' more than once");
                }
            }
            if (problems.Count > 0)
            {
                throw new IJepaCheckpointException(indexPath, problems);
            }
            return result;
        }
        catch (JsonException e)
        {
            throw new IJepaCheckpointException(indexPath, $"the index is not valid JSON: {e.Message}", e);
        }
        catch (Exception e) when (e is IOException and not IJepaCheckpointException or UnauthorizedAccessException)
        {
            throw new IJepaCheckpointException(indexPath, $"cannot read the index: {e.Message}", e);
        }
    }

    public void Dispose()
    {
        foreach (SafetensorsFile file in _files)
        {
            file.Dispose();
        }
    }
}
