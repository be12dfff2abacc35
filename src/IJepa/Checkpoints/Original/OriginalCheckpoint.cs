using System.Globalization;
using System.Text.Json;
using IJepa.Model;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace IJepa.Checkpoints.Original;

/// <summary>Which of an original checkpoint's two encoders to use.</summary>
public enum EncoderPart
{
    /// <summary>The EMA target encoder, which the paper evaluates (the default).</summary>
    TargetEncoder,

    /// <summary>The context encoder, which the Hugging Face conversions hold.</summary>
    Encoder,
}

/// <summary>
/// A checkpoint as the I-JEPA training code saves it (IN1K-vit.h.14-300e.pth.tar and the others): a
/// torch.save zip holding encoder, predictor, target_encoder, the optimizer state and bookkeeping, with
/// <c>module.</c>-prefixed keys. Opening it runs the pickle with only tensor and container globals
/// allowed and reads no tensor data; loading reads just the tensors of the part asked for, straight into
/// the model's parameters (the optimizer state, twice the model, is never read).
/// </summary>
public sealed class OriginalCheckpoint : IDisposable
{
    private static readonly string[] PartNames = ["encoder", "predictor", "target_encoder"];

    /// <summary>Attention heads of the published widths (the checkpoints do not record them).</summary>
    private static readonly Dictionary<int, int> HeadsByWidth = new() { [192] = 3, [384] = 6, [768] = 12, [1024] = 16, [1280] = 16, [1408] = 16 };

    private readonly TorchArchive _archive;
    private readonly Dictionary<string, Dictionary<string, TensorRef>> _parts;

    private OriginalCheckpoint(TorchArchive archive, Dictionary<string, Dictionary<string, TensorRef>> parts, Dictionary<string, string> info)
    {
        _archive = archive;
        _parts = parts;
        Info = info;
    }

    /// <summary>The checkpoint file.</summary>
    public string Path => _archive.Path;

    /// <summary>The model parts present: some of encoder, predictor, target_encoder.</summary>
    public IReadOnlyList<string> Parts => [.. _parts.Keys];

    /// <summary>The plain bookkeeping values (epoch, loss, batch_size, world_size, lr), as text.</summary>
    public IReadOnlyDictionary<string, string> Info { get; }

    /// <summary>Opens and checks the archive and its pickle; reads no tensor data.</summary>
    /// <exception cref="IJepaCheckpointException">Not a torch.save archive, truncated, a forbidden pickle global, or no model part.</exception>
    public static OriginalCheckpoint Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        TorchArchive archive = TorchArchive.Open(path);
        try
        {
            if (archive.Root is not Dictionary<object, object?> root)
            {
                throw new IJepaCheckpointException(archive.Path, "the checkpoint is not a dict (expected encoder, predictor, target_encoder, opt, ...)");
            }
            var parts = new Dictionary<string, Dictionary<string, TensorRef>>(StringComparer.Ordinal);
            foreach (string part in PartNames)
            {
                if (root.TryGetValue(part, out object? value) && value is Dictionary<object, object?> stateDict)
                {
                    var tensors = new Dictionary<string, TensorRef>(StringComparer.Ordinal);
                    foreach ((object key, object? tensor) in stateDict)
                    {
                        if (key is not string name || tensor is not TensorRef reference)
                        {
                            throw new IJepaCheckpointException(archive.Path, $"'{part}' is not a state dict of named tensors");
                        }
                        tensors[name.StartsWith("module.", StringComparison.Ordinal) ? name["module.".Length..] : name] = reference;
                    }
                    parts[part] = tensors;
                }
            }
            if (!parts.ContainsKey("encoder") && !parts.ContainsKey("target_encoder"))
            {
                throw new IJepaCheckpointException(archive.Path, "neither 'encoder' nor 'target_encoder' is in the checkpoint: not an I-JEPA training checkpoint");
            }
            var info = root.Where(kv => kv.Key is string && kv.Value is long or double or string)
                .ToDictionary(kv => (string)kv.Key, kv => Convert.ToString(kv.Value, CultureInfo.InvariantCulture)!, StringComparer.Ordinal);
            return new OriginalCheckpoint(archive, parts, info);
        }
        catch
        {
            archive.Dispose();
            throw;
        }
    }

    /// <summary>The encoder's sizes, inferred from its tensor shapes.</summary>
    /// <param name="part">Which encoder.</param>
    /// <param name="numAttentionHeads">Heads, for widths other than the published ones (192, 384, 768, 1024, 1280, 1408).</param>
    public IJepaConfig InferEncoderConfig(EncoderPart part = EncoderPart.TargetEncoder, int? numAttentionHeads = null)
    {
        Dictionary<string, TensorRef> t = Part(PartName(part));
        TensorRef pos = Need(t, "pos_embed", 3), patch = Need(t, "patch_embed.proj.weight", 4), fc1 = Need(t, "blocks.0.mlp.fc1.weight", 2);
        int width = (int)pos.Shape[2], tokens = (int)pos.Shape[1], patchSize = (int)patch.Shape[2];
        int grid = (int)Math.Round(Math.Sqrt(tokens));
        if (grid * grid != tokens)
        {
            throw new IJepaCheckpointException(Path, $"pos_embed holds {tokens} positions, not a square grid");
        }
        int depth = CountBlocks(t, "blocks");
        var config = new IJepaConfig
        {
            HiddenSize = width,
            NumHiddenLayers = depth,
            NumAttentionHeads = Heads(width, numAttentionHeads),
            IntermediateSize = (int)fc1.Shape[0],
            PatchSize = patchSize,
            ImageSize = grid * patchSize,
            NumChannels = (int)patch.Shape[1],
            QkvBias = t.ContainsKey("blocks.0.attn.qkv.bias"),
        };
        // Shapes each plausible can still add up to no model (no blocks, heads not dividing the width; found by fuzzing).
        IReadOnlyList<string> problems = config.Validate();
        return problems.Count == 0 ? config : throw new IJepaCheckpointException(Path, problems.Select(p => "inferred config: " + p).ToList());
    }

    /// <summary>
    /// Loads an encoder into the Hugging Face module tree (<see cref="IJepaModel"/>): the fused qkv
    /// projection is split by rows into query, key and value, the other keys renamed one to one.
    /// </summary>
    /// <exception cref="IJepaCheckpointException">The part is missing, or tensors are missing, unexpected or mis-shaped (all listed).</exception>
    public IJepaModel LoadEncoder(EncoderPart part = EncoderPart.TargetEncoder, ScalarType dtype = ScalarType.Float32, Device? device = null, int? numAttentionHeads = null)
    {
        IJepaConfig config = InferEncoderConfig(part, numAttentionHeads);
        Dictionary<string, TensorRef> tensors = Part(PartName(part));
        IJepaModel model = IJepaModel.Create(config, dtype, device);
        try
        {
            Read(Plan(PartName(part), tensors, model.named_parameters(), OriginalName));
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Loads the predictor (its heads are the encoder's).</summary>
    /// <exception cref="IJepaCheckpointException">No predictor in the file, or its tensors do not fit together.</exception>
    public IJepaPredictor LoadPredictor(ScalarType dtype = ScalarType.Float32, Device? device = null, int? numAttentionHeads = null)
    {
        Dictionary<string, TensorRef> t = Part("predictor");
        EncoderPart encoderPart = _parts.ContainsKey("target_encoder") ? EncoderPart.TargetEncoder : EncoderPart.Encoder;
        int heads = InferEncoderConfig(encoderPart, numAttentionHeads).NumAttentionHeads;
        TensorRef embed = Need(t, "predictor_embed.weight", 2), pos = Need(t, "predictor_pos_embed", 3), fc1 = Need(t, "predictor_blocks.0.mlp.fc1.weight", 2);
        int depth = CountBlocks(t, "predictor_blocks");
        int grid = (int)Math.Round(Math.Sqrt(pos.Shape[1]));
        var config = new IJepaPredictorConfig((int)embed.Shape[1], (int)embed.Shape[0], depth, heads, (int)fc1.Shape[0], grid);
        if (config.PredictorEmbedDim % heads != 0 || grid * grid != pos.Shape[1])
        {
            throw new IJepaCheckpointException(Path, $"predictor sizes do not fit: width {config.PredictorEmbedDim}, {heads} heads, {pos.Shape[1]} positions");
        }
        var predictor = new IJepaPredictor(config, dtype, device ?? CPU);
        try
        {
            Read(Plan("predictor", t, predictor.named_parameters(), name => (name, -1)));
            return predictor;
        }
        catch
        {
            predictor.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Writes one encoder as a Hugging Face folder (config.json, model.safetensors,
    /// preprocessor_config.json with the HF conversions' preprocessing: bilinear, mean = std = 0.5) that
    /// this library and transformers' IJepaModel load.
    /// </summary>
    public void SaveAsHuggingFace(string directory, EncoderPart part = EncoderPart.TargetEncoder, int? numAttentionHeads = null)
    {
        using IJepaModel model = LoadEncoder(part, ScalarType.Float32, CPU, numAttentionHeads);
        model.SavePretrained(directory);
        int size = model.Config.ImageSize;
        var preprocessor = new Dictionary<string, object>
        {
            ["do_normalize"] = true,
            ["do_rescale"] = true,
            ["do_resize"] = true,
            ["image_mean"] = new[] { 0.5, 0.5, 0.5 },
            ["image_processor_type"] = "ViTImageProcessor",
            ["image_std"] = new[] { 0.5, 0.5, 0.5 },
            ["resample"] = 2,
            ["rescale_factor"] = 1.0 / 255.0,
            ["size"] = new Dictionary<string, int> { ["height"] = size, ["width"] = size },
        };
        File.WriteAllText(System.IO.Path.Combine(directory, "preprocessor_config.json"), JsonSerializer.Serialize(preprocessor, new JsonSerializerOptions { WriteIndented = true }));
    }

    /// <summary>Tensor bytes read so far.</summary>
    internal long BytesRead => _archive.BytesRead;

    /// <summary>Bytes of all tensors of a part as stored.</summary>
    internal long PartBytes(string part) => Part(part).Values.Sum(t => t.Elements * TorchArchive.ElementSize(t.Storage.DType));

    /// <summary>Closes the file.</summary>
    public void Dispose() => _archive.Dispose();

    private static string PartName(EncoderPart part) => part == EncoderPart.TargetEncoder ? "target_encoder" : "encoder";

    private Dictionary<string, TensorRef> Part(string name) => _parts.TryGetValue(name, out var part)
        ? part
        : throw new IJepaCheckpointException(Path, $"the checkpoint has no '{name}' (it has {string.Join(", ", _parts.Keys)})");

    private TensorRef Need(Dictionary<string, TensorRef> tensors, string name, int rank) =>
        tensors.TryGetValue(name, out TensorRef? t) && t.Shape.Length == rank
            ? t
            : throw new IJepaCheckpointException(Path, $"'{name}' is missing or not {rank}-dimensional, so the sizes cannot be inferred");

    private static int CountBlocks(Dictionary<string, TensorRef> tensors, string prefix)
    {
        int count = 0;
        while (tensors.ContainsKey($"{prefix}.{count}.norm1.weight"))
        {
            count++;
        }
        return count;
    }

    private int Heads(int width, int? given) => given ?? (HeadsByWidth.TryGetValue(width, out int heads)
        ? heads
        : throw new IJepaCheckpointException(Path, $"width {width} is not a published I-JEPA width; pass the number of attention heads"));

    /// <summary>The original key for a Hugging Face parameter name, and the qkv row block (0 q, 1 k, 2 v) or -1.</summary>
    private static (string Name, int Slice) OriginalName(string hf)
    {
        string[] p = hf.Split('.');
        string leaf = p[^1];
        return p switch
        {
            ["embeddings", "position_embeddings"] => ("pos_embed", -1),
            ["embeddings", "patch_embeddings", "projection", _] => ($"patch_embed.proj.{leaf}", -1),
            ["layernorm", _] => ($"norm.{leaf}", -1),
            ["encoder", "layer", var i, "layernorm_before", _] => ($"blocks.{i}.norm1.{leaf}", -1),
            ["encoder", "layer", var i, "layernorm_after", _] => ($"blocks.{i}.norm2.{leaf}", -1),
            ["encoder", "layer", var i, "attention", "attention", var qkv, _] => ($"blocks.{i}.attn.qkv.{leaf}", qkv switch { "query" => 0, "key" => 1, _ => 2 }),
            ["encoder", "layer", var i, "attention", "output", "dense", _] => ($"blocks.{i}.attn.proj.{leaf}", -1),
            ["encoder", "layer", var i, "intermediate", "dense", _] => ($"blocks.{i}.mlp.fc1.{leaf}", -1),
            ["encoder", "layer", var i, "output", "dense", _] => ($"blocks.{i}.mlp.fc2.{leaf}", -1),
            _ => (hf, -1),
        };
    }

    /// <summary>
    /// Matches every parameter with its source tensor (by <paramref name="map"/>: original name and qkv
    /// row block, or -1) and checks the shapes; all missing, unexpected and mis-shaped tensors are listed together.
    /// </summary>
    private List<(Parameter Parameter, TensorRef Source, int Slice)> Plan(string part, Dictionary<string, TensorRef> tensors,
        IEnumerable<(string Name, Parameter Parameter)> parameters, Func<string, (string Name, int Slice)> map)
    {
        var used = new HashSet<string>(StringComparer.Ordinal);
        var plan = new List<(Parameter, TensorRef, int)>();
        var problems = new List<string>();
        foreach ((string name, Parameter parameter) in parameters)
        {
            (string original, int slice) = map(name);
            if (!tensors.TryGetValue(original, out TensorRef? source))
            {
                problems.Add($"missing '{part}.{original}'");
                continue;
            }
            used.Add(original);
            long[] expected = slice < 0 ? parameter.shape : [3 * parameter.shape[0], .. parameter.shape[1..]];
            if (!source.Shape.SequenceEqual(expected))
            {
                problems.Add($"'{part}.{original}' is {source.ShapeText} but the inferred config needs [{string.Join(",", expected)}]");
                continue;
            }
            plan.Add((parameter, source, slice));
        }
        problems.AddRange(tensors.Keys.Where(k => !used.Contains(k)).Order(StringComparer.Ordinal).Select(k => $"unexpected '{part}.{k}'"));
        return problems.Count == 0 ? plan : throw new IJepaCheckpointException(Path, problems);
    }

    private void Read(List<(Parameter Parameter, TensorRef Source, int Slice)> plan)
    {
        // A fused qkv tensor is read once into staging and its three row blocks copied out.
        TensorRef? stagedSource = null;
        Tensor? staged = null;
        try
        {
            // Slices of one fused tensor next to each other, so each is read once and staged alone.
            foreach ((Parameter parameter, TensorRef source, int slice) in plan.GroupBy(p => p.Source).SelectMany(g => g))
            {
                if (slice < 0)
                {
                    _archive.ReadInto(source, parameter);
                    continue;
                }
                if (!ReferenceEquals(stagedSource, source))
                {
                    staged?.Dispose();
                    staged = empty(source.Shape, source.Storage.DType);
                    _archive.ReadInto(source, staged);
                    stagedSource = source;
                }
                long rows = parameter.shape[0];
                using Tensor block = staged!.narrow(0, slice * rows, rows);
                using (no_grad())
                {
                    parameter.copy_(block);
                }
            }
        }
        finally
        {
            staged?.Dispose();
        }
    }
}
