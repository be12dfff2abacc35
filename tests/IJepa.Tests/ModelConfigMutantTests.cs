using System.Text;
using System.Text.Json;

namespace IJepa.Tests;

/// <summary>
/// Tests written against mutants that Stryker.NET left alive in src/IJepa/Model (tests/mutants/Model.md):
/// config.json parsing and validation at every boundary, as transformers' IJepaConfig reads the file. No model is
/// built here, so a mutation run of IJepaConfig.cs can use this class alone (models parse configs too).
/// </summary>
public class ModelConfigMutantTests
{
    private const string Tiny =
        "\"hidden_size\": 48, \"num_hidden_layers\": 4, \"num_attention_heads\": 6, \"intermediate_size\": 100, \"patch_size\": 14, \"image_size\": 70";

    private static IJepaConfig ParseTiny(string extra = "") => IJepaConfig.Parse("{" + Tiny + extra + "}", "test");

    private static IJepaCheckpointException ParseFails(string json) =>
        Assert.Throws<IJepaCheckpointException>(() => IJepaConfig.Parse(json, "cfg"));

    [Fact]
    public void A_minimal_config_gets_transformers_defaults()
    {
        IJepaConfig config = ParseTiny();
        Assert.Equal(48, config.HiddenSize);
        Assert.Equal(4, config.NumHiddenLayers);
        Assert.Equal(6, config.NumAttentionHeads);
        Assert.Equal(100, config.IntermediateSize);
        Assert.Equal(14, config.PatchSize);
        Assert.Equal(70, config.ImageSize);
        // transformers' IJepaConfig defaults: num_channels 3, layer_norm_eps 1e-12, hidden_act "gelu", qkv_bias True.
        Assert.Equal(3, config.NumChannels);
        Assert.Equal(1e-12, config.LayerNormEps);
        Assert.Equal("gelu", config.HiddenAct);
        Assert.True(config.QkvBias);
        Assert.Equal(5, config.GridSize);
        Assert.Equal(25, config.NumPatches);
        Assert.Equal(8, config.HeadDim);
    }

    [Fact]
    public void Nulls_read_as_absent()
    {
        IJepaConfig config = ParseTiny(", \"num_channels\": null, \"layer_norm_eps\": null, \"hidden_act\": null, \"qkv_bias\": null, \"model_type\": null");
        Assert.Equal(3, config.NumChannels);
        Assert.Equal(1e-12, config.LayerNormEps);
        Assert.Equal("gelu", config.HiddenAct);
        Assert.True(config.QkvBias);
        var error = ParseFails("{" + Tiny.Replace("\"hidden_size\": 48", "\"hidden_size\": null", StringComparison.Ordinal) + "}");
        Assert.Equal(["hidden_size is missing"], error.Problems);
    }

    [Fact]
    public void Every_optional_field_is_read()
    {
        IJepaConfig config = ParseTiny(", \"model_type\": \"ijepa\", \"num_channels\": 1, \"layer_norm_eps\": 0.001, \"hidden_act\": \"gelu_new\", \"qkv_bias\": false");
        Assert.Equal(1, config.NumChannels);
        Assert.Equal(0.001, config.LayerNormEps);
        Assert.Equal("gelu_new", config.HiddenAct);
        Assert.False(config.QkvBias);
        Assert.True(ParseTiny(", \"qkv_bias\": true").QkvBias);
        Assert.Equal("gelu_pytorch_tanh", ParseTiny(", \"hidden_act\": \"gelu_pytorch_tanh\"").HiddenAct);
        Assert.Equal("gelu", ParseTiny(", \"hidden_act\": \"gelu\"").HiddenAct);
    }

    [Theory]
    [InlineData(", \"num_channels\": 2.5", "num_channels is not an integer: 2.5")]
    [InlineData(", \"num_channels\": 3000000000", "num_channels is not an integer: 3000000000")]
    [InlineData(", \"num_channels\": \"3\"", "num_channels is not an integer: \"3\"")]
    [InlineData(", \"layer_norm_eps\": \"1e-6\"", "layer_norm_eps is not a number: \"1e-6\"")]
    [InlineData(", \"qkv_bias\": 1", "qkv_bias is not true or false: 1")]
    [InlineData(", \"qkv_bias\": \"true\"", "qkv_bias is not true or false: \"true\"")]
    [InlineData(", \"hidden_act\": 5", "hidden_act is not a string: 5")]
    [InlineData(", \"model_type\": [\"ijepa\"]", "model_type is not a string: [\"ijepa\"]")]
    [InlineData(", \"model_type\": \"vit\"", "model_type is 'vit', not 'ijepa'")]
    public void A_wrongly_typed_field_is_the_only_problem_listed(string extra, string problem)
    {
        // Exactly one problem: the fallback keeps the other checks (and Validate) quiet.
        var error = ParseFails("{" + Tiny + extra + "}");
        Assert.Equal([problem], error.Problems);
        Assert.Equal("cfg", error.Path);
        Assert.Equal("cfg: " + problem, error.Message);
    }

    [Fact]
    public void Parse_problems_are_all_listed_and_validation_waits_for_them()
    {
        // hidden_size "big" reads as 0, which Validate would also report: it must not run on a half-read config.
        var error = ParseFails("{\"hidden_size\": \"big\", \"num_hidden_layers\": 4, \"num_attention_heads\": 6, \"intermediate_size\": 100, \"image_size\": 70, \"qkv_bias\": 0}");
        Assert.Equal(["hidden_size is not an integer: \"big\"", "patch_size is missing", "qkv_bias is not true or false: 0"], error.Problems);
    }

    [Fact]
    public void A_config_that_reads_is_then_validated_and_must_be_an_object()
    {
        // Every field reads, but 48 is not a multiple of 5 heads: Parse runs Validate and lists its problem.
        Assert.Contains(ParseFails("{" + Tiny.Replace("\"num_attention_heads\": 6", "\"num_attention_heads\": 5", StringComparison.Ordinal) + "}").Problems,
            p => p.Contains("num_attention_heads", StringComparison.Ordinal));
        Assert.Equal(["the config is not a JSON object"], ParseFails("[1, 2]").Problems);
    }

    [Fact]
    public void Raw_values_in_messages_are_cut_at_40_characters()
    {
        string forty = new('a', 38);   // with its quotes: 40 characters, shown whole
        string arrayOfForty = "[\"" + new string('a', 36) + "\"]";
        var whole = ParseFails("{" + Tiny + ", \"hidden_act\": " + arrayOfForty + "}");
        Assert.Equal(["hidden_act is not a string: " + arrayOfForty], whole.Problems);
        var exact = ParseFails("{" + Tiny + ", \"qkv_bias\": \"" + forty + "\"}");
        Assert.Equal(["qkv_bias is not true or false: \"" + forty + "\""], exact.Problems);
        string longer = new('b', 39);  // 41 characters with quotes
        var cut = ParseFails("{" + Tiny + ", \"qkv_bias\": \"" + longer + "\"}");
        Assert.Equal(["qkv_bias is not true or false: \"" + new string('b', 39) + "..."], cut.Problems);
    }

    [Fact]
    public void Json_nested_deeper_than_16_is_refused()
    {
        string Nested(int depth) => new StringBuilder().Insert(0, "[", depth - 1).Append(']', depth - 1).ToString();
        // The root object is level 1, so an extra field holding 15 nested arrays reaches depth 16.
        IJepaConfig ok = ParseTiny(", \"extra\": " + Nested(16));
        Assert.Equal(48, ok.HiddenSize);
        var error = ParseFails("{" + Tiny + ", \"extra\": " + Nested(17) + "}");
        Assert.StartsWith("not valid JSON: ", Assert.Single(error.Problems), StringComparison.Ordinal);
        Assert.IsType<JsonException>(error.InnerException, exactMatch: false);
    }

    [Theory]
    [InlineData("hidden_size", 65536)]
    [InlineData("num_hidden_layers", 1024)]
    [InlineData("num_attention_heads", 1024)]
    [InlineData("intermediate_size", 262144)]
    [InlineData("patch_size", 1024)]
    [InlineData("image_size", 16384)]
    [InlineData("num_channels", 64)]
    public void Each_size_is_checked_against_its_range(string field, int max)
    {
        IJepaConfig With(int value) => field switch
        {
            "hidden_size" => Base with { HiddenSize = value, NumAttentionHeads = 1 },
            "num_hidden_layers" => Base with { NumHiddenLayers = value },
            "num_attention_heads" => Base with { NumAttentionHeads = value, HiddenSize = 1024 * 64 },
            "intermediate_size" => Base with { IntermediateSize = value },
            "patch_size" => Base with { PatchSize = value, ImageSize = 16384 },
            "image_size" => Base with { ImageSize = value, PatchSize = 1 },
            _ => Base with { NumChannels = value },
        };
        Assert.Empty(With(1).Validate());
        Assert.Empty(With(max).Validate());
        Assert.Equal([$"{field} = 0 is outside 1..{max}"], With(0).Validate());
        Assert.Equal([$"{field} = -1 is outside 1..{max}"], With(-1).Validate());
        Assert.Equal([$"{field} = {max + 1} is outside 1..{max}"], With(max + 1).Validate());
    }

    private static IJepaConfig Base => ModelMutantTests.Base;

    [Fact]
    public void A_range_problem_stops_validation_before_dividing_by_zero_heads()
    {
        Assert.Equal(["num_attention_heads = 0 is outside 1..1024"], (Base with { NumAttentionHeads = 0 }).Validate());
        Assert.Equal(["hidden_size = 0 is outside 1..65536", "patch_size = 0 is outside 1..1024"],
            (Base with { HiddenSize = 0, PatchSize = 0, LayerNormEps = 2, HiddenAct = "relu" }).Validate());
    }

    [Fact]
    public void Cross_field_rules()
    {
        Assert.Equal(["hidden_size 50 is not a multiple of num_attention_heads 6"], (Base with { HiddenSize = 50 }).Validate());
        Assert.Empty((Base with { ImageSize = 14 }).Validate());
        Assert.Equal(["image_size 13 is smaller than patch_size 14"], (Base with { ImageSize = 13 }).Validate());
        Assert.Empty((Base with { LayerNormEps = 0.999 }).Validate());
        Assert.Empty((Base with { LayerNormEps = double.Epsilon }).Validate());
        Assert.Equal(["layer_norm_eps = 0 is outside (0, 1)"], (Base with { LayerNormEps = 0 }).Validate());
        Assert.Equal(["layer_norm_eps = 1 is outside (0, 1)"], (Base with { LayerNormEps = 1 }).Validate());
        Assert.Equal(["layer_norm_eps = -1E-06 is outside (0, 1)"], (Base with { LayerNormEps = -1e-6 }).Validate());
        Assert.Single((Base with { LayerNormEps = double.NaN }).Validate());
        foreach (string act in new[] { "gelu", "gelu_pytorch_tanh", "gelu_new" })
        {
            Assert.Empty((Base with { HiddenAct = act }).Validate());
        }
        Assert.Equal(["hidden_act 'GELU' is not supported (gelu, gelu_pytorch_tanh, gelu_new)"], (Base with { HiddenAct = "GELU" }).Validate());
        Assert.Equal(3, (Base with { HiddenSize = 50, ImageSize = 13, HiddenAct = "relu" }).Validate().Count);
    }

    [Fact]
    public void ViT_H_14_is_the_published_size()
    {
        IJepaConfig h = IJepaConfig.VitHuge14;
        Assert.Equal((1280, 32, 16, 5120, 14, 224, 3), (h.HiddenSize, h.NumHiddenLayers, h.NumAttentionHeads, h.IntermediateSize, h.PatchSize, h.ImageSize, h.NumChannels));
        Assert.Equal((1e-6, "gelu", true), (h.LayerNormEps, h.HiddenAct, h.QkvBias));
        Assert.Equal((16, 256, 80), (h.GridSize, h.NumPatches, h.HeadDim));
        Assert.Empty(h.Validate());
    }

    [Fact]
    public void ToJson_is_a_transformers_config()
    {
        IJepaConfig config = Base with { NumChannels = 1, LayerNormEps = 1e-5, HiddenAct = "gelu_new", QkvBias = false };
        string json = config.ToJson();
        using JsonDocument document = JsonDocument.Parse(json);
        JsonElement root = document.RootElement;
        Assert.Equal(["IJepaModel"], root.GetProperty("architectures").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("ijepa", root.GetProperty("model_type").GetString());
        Assert.Equal(48, root.GetProperty("hidden_size").GetInt32());
        Assert.Equal(4, root.GetProperty("num_hidden_layers").GetInt32());
        Assert.Equal(6, root.GetProperty("num_attention_heads").GetInt32());
        Assert.Equal(100, root.GetProperty("intermediate_size").GetInt32());
        Assert.Equal(14, root.GetProperty("patch_size").GetInt32());
        Assert.Equal(70, root.GetProperty("image_size").GetInt32());
        Assert.Equal(1, root.GetProperty("num_channels").GetInt32());
        Assert.Equal(1e-5, root.GetProperty("layer_norm_eps").GetDouble());
        Assert.Equal("gelu_new", root.GetProperty("hidden_act").GetString());
        Assert.False(root.GetProperty("qkv_bias").GetBoolean());
        Assert.Equal(0.0, root.GetProperty("hidden_dropout_prob").GetDouble());
        Assert.Equal(0.0, root.GetProperty("attention_probs_dropout_prob").GetDouble());
        Assert.Equal(0.02, root.GetProperty("initializer_range").GetDouble());
        Assert.Equal(15, root.EnumerateObject().Count());
        Assert.Contains("\n  \"", json, StringComparison.Ordinal);   // indented, as transformers writes it
        Assert.Equal(config, IJepaConfig.Parse(json, "round trip"));
    }

    [Fact]
    public void Load_reads_a_file_up_to_one_mebibyte()
    {
        using TempFolder folder = TestData.NewFolder();
        string json = "{" + Tiny + "}";
        string path = folder.File("config.json");
        File.WriteAllText(path, json + new string(' ', 1024 * 1024 - json.Length));
        Assert.Equal(1024 * 1024, new FileInfo(path).Length);
        Assert.Equal(48, IJepaConfig.Load(path).HiddenSize);
        File.AppendAllText(path, " ");
        var error = Assert.Throws<IJepaCheckpointException>(() => IJepaConfig.Load(path));
        Assert.Equal([$"config.json is {1024 * 1024 + 1} bytes; a model config is a few hundred"], error.Problems);
        Assert.Equal(Path.GetFullPath(path), error.Path);
    }

    [Fact]
    public void Load_of_a_missing_file_names_it()
    {
        using TempFolder folder = TestData.NewFolder();
        string path = folder.File("config.json");
        var error = Assert.Throws<IJepaCheckpointException>(() => IJepaConfig.Load(path));
        Assert.Equal(path, error.Path);
        Assert.StartsWith("cannot read the model config: ", Assert.Single(error.Problems), StringComparison.Ordinal);
        Assert.IsType<FileNotFoundException>(error.InnerException);
    }
}
