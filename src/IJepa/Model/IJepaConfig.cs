using System.Text.Json;
using IJepa.Checkpoints;

namespace IJepa.Model;

/// <summary>
/// The sizes of an I-JEPA ViT encoder, as a Hugging Face <c>config.json</c> gives them. Nothing in the
/// model is fixed to ViT-H: every dimension comes from here.
/// </summary>
public sealed record IJepaConfig
{
    /// <summary>Token width D (1280 for ViT-H).</summary>
    public required int HiddenSize { get; init; }

    /// <summary>Number of transformer blocks (32 for ViT-H).</summary>
    public required int NumHiddenLayers { get; init; }

    /// <summary>Attention heads per block (16 for ViT-H); must divide <see cref="HiddenSize"/>.</summary>
    public required int NumAttentionHeads { get; init; }

    /// <summary>Width of the MLP's hidden layer (5120 for ViT-H).</summary>
    public required int IntermediateSize { get; init; }

    /// <summary>Side of a square patch in pixels (14 or 16).</summary>
    public required int PatchSize { get; init; }

    /// <summary>Side of the square input the position embeddings were trained for (224 or 448).</summary>
    public required int ImageSize { get; init; }

    /// <summary>Input channels (3).</summary>
    public int NumChannels { get; init; } = 3;

    /// <summary>LayerNorm epsilon (1e-6 in the published checkpoints).</summary>
    public double LayerNormEps { get; init; } = 1e-6;
    // (A config.json without layer_norm_eps gets transformers' default, 1e-12; see Parse.)

    /// <summary>MLP activation: "gelu" (exact, erf) or "gelu_pytorch_tanh"/"gelu_new" (tanh approximation).</summary>
    public string HiddenAct { get; init; } = "gelu";

    /// <summary>Whether query, key and value projections have biases.</summary>
    public bool QkvBias { get; init; } = true;

    /// <summary>Patches per side at <see cref="ImageSize"/>.</summary>
    public int GridSize => ImageSize / PatchSize;

    /// <summary>Patch tokens at <see cref="ImageSize"/> (256 for ViT-H/14).</summary>
    public int NumPatches => GridSize * GridSize;

    /// <summary>Width of one attention head.</summary>
    public int HeadDim => HiddenSize / NumAttentionHeads;

    /// <summary>ViT-H/14 at 224 px, the size of facebook/ijepa_vith14_1k and _22k.</summary>
    public static IJepaConfig VitHuge14 { get; } = new()
    {
        HiddenSize = 1280,
        NumHiddenLayers = 32,
        NumAttentionHeads = 16,
        IntermediateSize = 5120,
        PatchSize = 14,
        ImageSize = 224,
    };

    /// <summary>Reads and validates a Hugging Face <c>config.json</c>.</summary>
    /// <exception cref="IJepaCheckpointException">The file is missing, not JSON, or describes an impossible or unsupported model.</exception>
    public static IJepaConfig Load(string path)
    {
        string fullPath = Path.GetFullPath(path);
        string text;
        try
        {
            var info = new FileInfo(fullPath);
            if (info.Exists && info.Length > 1024 * 1024)
            {
                throw new IJepaCheckpointException(fullPath, $"config.json is {info.Length} bytes; a model config is a few hundred");
            }
            text = File.ReadAllText(fullPath);
        }
        catch (Exception e) when (e is IOException and not IJepaCheckpointException or UnauthorizedAccessException)
        {
            throw new IJepaCheckpointException(fullPath, $"cannot read the model config: {e.Message}", e);
        }
        return Parse(text, fullPath);
    }

    /// <summary>Parses and validates config.json text; <paramref name="source"/> names it in errors.</summary>
    public static IJepaConfig Parse(string json, string source)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            throw new IJepaCheckpointException(source, $"not valid JSON: {e.Message}", e);
        }

        using (document)
        {
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new IJepaCheckpointException(source, "the config is not a JSON object");
            }
            var problems = new List<string>();
            string? modelType = String(root, "model_type", problems, required: false);
            if (modelType != null && modelType != "ijepa")
            {
                problems.Add($"model_type is '{modelType}', not 'ijepa'");
            }

            var config = new IJepaConfig
            {
                HiddenSize = Int(root, "hidden_size", problems),
                NumHiddenLayers = Int(root, "num_hidden_layers", problems),
                NumAttentionHeads = Int(root, "num_attention_heads", problems),
                IntermediateSize = Int(root, "intermediate_size", problems),
                PatchSize = Int(root, "patch_size", problems),
                ImageSize = Int(root, "image_size", problems),
                NumChannels = Int(root, "num_channels", problems, 3),
                LayerNormEps = Double(root, "layer_norm_eps", problems, 1e-12),
                HiddenAct = String(root, "hidden_act", problems, required: false) ?? "gelu",
                QkvBias = Bool(root, "qkv_bias", problems, true),
            };
            if (problems.Count == 0)
            {
                problems.AddRange(config.Validate());
            }
            if (problems.Count > 0)
            {
                throw new IJepaCheckpointException(source, problems);
            }
            return config;
        }
    }

    /// <summary>Lists what makes this configuration unusable (empty when it is fine).</summary>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        void Range(string name, long value, long max)
        {
            if (value < 1 || value > max)
            {
                problems.Add($"{name} = {value} is outside 1..{max}");
            }
        }
        Range("hidden_size", HiddenSize, 65536);
        Range("num_hidden_layers", NumHiddenLayers, 1024);
        Range("num_attention_heads", NumAttentionHeads, 1024);
        Range("intermediate_size", IntermediateSize, 262144);
        Range("patch_size", PatchSize, 1024);
        Range("image_size", ImageSize, 16384);
        Range("num_channels", NumChannels, 64);
        if (problems.Count > 0)
        {
            return problems;
        }
        if (HiddenSize % NumAttentionHeads != 0)
        {
            problems.Add($"hidden_size {HiddenSize} is not a multiple of num_attention_heads {NumAttentionHeads}");
        }
        if (ImageSize < PatchSize)
        {
            problems.Add($"image_size {ImageSize} is smaller than patch_size {PatchSize}");
        }
        if (!(LayerNormEps > 0 && LayerNormEps < 1))
        {
            problems.Add($"layer_norm_eps = {LayerNormEps} is outside (0, 1)");
        }
        if (HiddenAct is not ("gelu" or "gelu_pytorch_tanh" or "gelu_new"))
        {
            problems.Add($"hidden_act '{HiddenAct}' is not supported (gelu, gelu_pytorch_tanh, gelu_new)");
        }
        return problems;
    }

    /// <summary>The config as Hugging Face's <c>config.json</c> for <c>IJepaModel</c>.</summary>
    public string ToJson()
    {
        var fields = new SortedDictionary<string, object>(StringComparer.Ordinal)
        {
            ["architectures"] = new[] { "IJepaModel" },
            ["model_type"] = "ijepa",
            ["hidden_size"] = HiddenSize,
            ["num_hidden_layers"] = NumHiddenLayers,
            ["num_attention_heads"] = NumAttentionHeads,
            ["intermediate_size"] = IntermediateSize,
            ["patch_size"] = PatchSize,
            ["image_size"] = ImageSize,
            ["num_channels"] = NumChannels,
            ["layer_norm_eps"] = LayerNormEps,
            ["hidden_act"] = HiddenAct,
            ["qkv_bias"] = QkvBias,
            ["hidden_dropout_prob"] = 0.0,
            ["attention_probs_dropout_prob"] = 0.0,
            ["initializer_range"] = 0.02,
        };
        return JsonSerializer.Serialize(fields, new JsonSerializerOptions { WriteIndented = true });
    }

    private static int Int(JsonElement root, string name, List<string> problems, int? fallback = null)
    {
        if (!root.TryGetProperty(name, out JsonElement value) || value.ValueKind == JsonValueKind.Null)
        {
            if (fallback is int f)
            {
                return f;
            }
            problems.Add($"{name} is missing");
            return 0;
        }
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt32(out int result))
        {
            problems.Add($"{name} is not an integer: {Truncate(value.GetRawText())}");
            return 0;
        }
        return result;
    }

    private static double Double(JsonElement root, string name, List<string> problems, double fallback)
    {
        if (!root.TryGetProperty(name, out JsonElement value) || value.ValueKind == JsonValueKind.Null)
        {
            return fallback;
        }
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetDouble(out double result))
        {
            problems.Add($"{name} is not a number: {Truncate(value.GetRawText())}");
            return fallback;
        }
        return result;
    }

    private static bool Bool(JsonElement root, string name, List<string> problems, bool fallback)
    {
        if (!root.TryGetProperty(name, out JsonElement value) || value.ValueKind == JsonValueKind.Null)
        {
            return fallback;
        }
        if (value.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
        {
            problems.Add($"{name} is not true or false: {Truncate(value.GetRawText())}");
            return fallback;
        }
        return value.GetBoolean();
    }

    private static string? String(JsonElement root, string name, List<string> problems, bool required)
    {
        if (!root.TryGetProperty(name, out JsonElement value) || value.ValueKind == JsonValueKind.Null)
        {
            if (required)
            {
                problems.Add($"{name} is missing");
            }
            return null;
        }
        if (value.ValueKind != JsonValueKind.String)
        {
            problems.Add($"{name} is not a string: {Truncate(value.GetRawText())}");
            return null;
        }
        return value.GetString();
    }

    private static string Truncate(string text) => text.Length <= 40 ? text : text[..40] + "...";
}
