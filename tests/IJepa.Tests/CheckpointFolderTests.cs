using System.Text.Json;
using System.Text.Json.Nodes;

namespace IJepa.Tests;

/// <summary>Model folders that do not fit the model: one exception that names the file and lists every offending tensor.</summary>
public class CheckpointFolderTests
{
    private static IJepaCheckpointException LoadFails(string folder) =>
        Assert.Throws<IJepaCheckpointException>(() => IJepaModel.FromPretrained(folder).Dispose());

    private static void EditConfig(string folder, Action<JsonObject> edit)
    {
        string path = Path.Combine(folder, "config.json");
        JsonObject config = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        edit(config);
        File.WriteAllText(path, config.ToJsonString());
    }

    [Fact]
    public void A_config_that_does_not_fit_the_weights_lists_every_mis_shaped_tensor()
    {
        // Like loading ViT-g weights with a ViT-H config: every width differs.
        using TempFolder folder = TestData.CopyModel("ijepa_tiny_p14");
        EditConfig(folder.Path, c => { c["hidden_size"] = 60; c["num_attention_heads"] = 6; });
        var error = LoadFails(folder.Path);
        Assert.EndsWith("model.safetensors", error.Path, StringComparison.Ordinal);
        Assert.Contains("'embeddings.position_embeddings' is [1,25,48] in the checkpoint but the config gives [1,25,60]", error.Message, StringComparison.Ordinal);
        Assert.True(error.Problems.Count > 40, $"{error.Problems.Count} problems");
    }

    [Fact]
    public void Fewer_layers_in_the_config_leaves_unexpected_tensors()
    {
        using TempFolder folder = TestData.CopyModel("ijepa_tiny_p14");
        EditConfig(folder.Path, c => c["num_hidden_layers"] = 3);
        var error = LoadFails(folder.Path);
        Assert.Contains("unexpected 'encoder.layer.3.attention.attention.query.weight'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void More_layers_in_the_config_means_missing_tensors()
    {
        using TempFolder folder = TestData.CopyModel("ijepa_tiny_p14");
        EditConfig(folder.Path, c => c["num_hidden_layers"] = 5);
        var error = LoadFails(folder.Path);
        Assert.Contains("missing 'encoder.layer.4.layernorm_before.weight' [48]", error.Message, StringComparison.Ordinal);
        Assert.Equal(16, error.Problems.Count);
    }

    [Fact]
    public void A_missing_config()
    {
        using TempFolder folder = TestData.CopyModel("ijepa_tiny_p14");
        File.Delete(folder.File("config.json"));
        Assert.Contains("no config.json", LoadFails(folder.Path).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_folder()
    {
        Assert.Contains("does not exist", LoadFails("/nonexistent/ijepa").Message, StringComparison.Ordinal);
    }

    [Fact]
    public void No_weights_in_the_folder()
    {
        using TempFolder folder = TestData.CopyModel("ijepa_tiny_p14");
        File.Delete(folder.File("model.safetensors"));
        File.WriteAllBytes(folder.File("pytorch_model.bin"), [1, 2, 3]);
        Assert.Contains("pytorch_model.bin", LoadFails(folder.Path).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{\"hidden_size\": 48", "not valid JSON")]
    [InlineData("[1, 2]", "not a JSON object")]
    [InlineData("{\"model_type\": \"vit\", \"hidden_size\": 48, \"num_hidden_layers\": 4, \"num_attention_heads\": 6, \"intermediate_size\": 100, \"patch_size\": 14, \"image_size\": 70}", "model_type is 'vit'")]
    [InlineData("{\"hidden_size\": 50, \"num_hidden_layers\": 4, \"num_attention_heads\": 6, \"intermediate_size\": 100, \"patch_size\": 14, \"image_size\": 70}", "not a multiple")]
    [InlineData("{\"hidden_size\": \"big\", \"num_hidden_layers\": 4, \"num_attention_heads\": 6, \"intermediate_size\": 100, \"patch_size\": 14, \"image_size\": 70}", "hidden_size is not an integer")]
    [InlineData("{\"hidden_size\": 48, \"num_attention_heads\": 6, \"intermediate_size\": 100, \"patch_size\": 14, \"image_size\": 70}", "num_hidden_layers is missing")]
    [InlineData("{\"hidden_size\": 48, \"num_hidden_layers\": 4, \"num_attention_heads\": 6, \"intermediate_size\": 100, \"patch_size\": 14, \"image_size\": 70, \"hidden_act\": \"relu\"}", "hidden_act 'relu'")]
    [InlineData("{\"hidden_size\": 48, \"num_hidden_layers\": 4000000, \"num_attention_heads\": 6, \"intermediate_size\": 100, \"patch_size\": 14, \"image_size\": 70}", "outside 1..")]
    public void Bad_configs(string json, string expected)
    {
        using TempFolder folder = TestData.CopyModel("ijepa_tiny_p14");
        File.WriteAllText(folder.File("config.json"), json);
        var error = LoadFails(folder.Path);
        Assert.EndsWith("config.json", error.Path, StringComparison.Ordinal);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_shard()
    {
        using TempFolder folder = TestData.CopyModel("ijepa_tiny_p16_sharded");
        File.Delete(folder.File("model-00002-of-00003.safetensors"));
        var error = LoadFails(folder.Path);
        Assert.EndsWith("model.safetensors.index.json", error.Path, StringComparison.Ordinal);
        Assert.Contains("shard 'model-00002-of-00003.safetensors' is listed but missing", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_index_that_points_outside_the_folder()
    {
        using TempFolder folder = TestData.CopyModel("ijepa_tiny_p16_sharded");
        string path = folder.File("model.safetensors.index.json");
        JsonObject index = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        index["weight_map"]!["layernorm.weight"] = "../../etc/passwd";
        File.WriteAllText(path, index.ToJsonString());
        Assert.Contains("not a plain file name", LoadFails(folder.Path).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_index_that_disagrees_with_the_shards()
    {
        using TempFolder folder = TestData.CopyModel("ijepa_tiny_p16_sharded");
        string path = folder.File("model.safetensors.index.json");
        JsonObject index = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        JsonObject map = index["weight_map"]!.AsObject();
        string moved = map.First(kv => kv.Value!.GetValue<string>() == "model-00001-of-00003.safetensors").Key;
        map[moved] = "model-00003-of-00003.safetensors";
        File.WriteAllText(path, index.ToJsonString());
        var error = LoadFails(folder.Path);
        Assert.Contains($"'{moved}' is in model-00001-of-00003.safetensors, but the index places it in model-00003-of-00003.safetensors", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_task_model_prefix_is_accepted_and_its_head_ignored()
    {
        // IJepaForImageClassification saves the encoder under "ijepa." next to a "classifier".
        using TempFolder folder = TestData.CopyModel("ijepa_tiny_p14");
        string path = folder.File("model.safetensors");
        using (SafetensorsFile file = SafetensorsFile.Open(path))
        {
            var header = new Dictionary<string, object>();
            var data = new MemoryStream();
            foreach (SafetensorsTensorInfo info in file.Tensors.Values.OrderBy(t => t.FileOffset))
            {
                byte[] bytes = new byte[info.ByteLength];
                file.ReadInto(info, bytes);
                header["ijepa." + info.Name] = new { dtype = info.DType.ToString(), shape = info.Shape, data_offsets = new[] { data.Length, data.Length + bytes.Length } };
                data.Write(bytes);
            }
            header["classifier.weight"] = new { dtype = "F32", shape = new[] { 1L }, data_offsets = new[] { data.Length, data.Length + 4 } };
            data.Write(new byte[4]);
            TestData.WriteSafetensors(folder.File("prefixed.safetensors"), header, data.ToArray());
        }
        File.Move(folder.File("prefixed.safetensors"), path, overwrite: true);
        using IJepaModel model = IJepaModel.FromPretrained(folder.Path);
        using IJepaModel reference = IJepaModel.FromPretrained(TestData.Reference("ijepa_tiny_p14"));
        using Tensor pixels = randn(1, 3, 70, 70);
        using IJepaModelOutput a = model.Forward(pixels);
        using IJepaModelOutput b = reference.Forward(pixels);
        Assert.Equal(b.Pooled.data<float>().ToArray(), a.Pooled.data<float>().ToArray());
    }

    [Fact]
    public void Loading_writes_straight_into_parameter_memory()
    {
        // The zero-copy path: the loader reads each float32 tensor into the parameter's own storage, so every
        // parameter keeps its address through LoadWeights and then holds exactly the file's bytes.
        string folder = TestData.Reference("ijepa_tiny_p14");
        using var checkpoint = HuggingFaceCheckpoint.Open(folder);
        using IJepaModel model = IJepaModel.Create(checkpoint.Config);
        var addresses = model.named_parameters().ToDictionary(p => p.name, p => Address(p.parameter));
        model.LoadWeights(checkpoint);
        using SafetensorsFile file = SafetensorsFile.Open(Path.Combine(folder, "model.safetensors"));
        foreach ((string name, TorchSharp.Modules.Parameter parameter) in model.named_parameters())
        {
            Assert.Equal(addresses[name], Address(parameter));
            SafetensorsTensorInfo info = file.Tensors[name];
            byte[] expected = new byte[info.ByteLength];
            file.ReadInto(info, expected);
            Assert.True(expected.AsSpan().SequenceEqual(parameter.bytes), name);
        }
    }

    private static nint Address(Tensor tensor) =>
        (nint)System.Runtime.CompilerServices.Unsafe.ByteOffset(ref System.Runtime.CompilerServices.Unsafe.NullRef<byte>(), ref System.Runtime.InteropServices.MemoryMarshal.GetReference(tensor.bytes));
}
