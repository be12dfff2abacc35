using System.Text.Json;
using System.Text.Json.Nodes;

namespace IJepa.Tests;

/// <summary>
/// Tests written against mutants that Stryker.NET left alive in src/IJepa/Checkpoints (tests/mutants/Checkpoints.md):
/// model folders, shard indexes and weight loading, each problem with its exact text (the safetensors format
/// itself: SafetensorsMutantTests).
/// </summary>
public class CheckpointMutantTests
{
    private static IJepaCheckpointException CheckpointFails(string folder) =>
        Assert.Throws<IJepaCheckpointException>(() => HuggingFaceCheckpoint.Open(folder).Dispose());

    private static void EditIndex(string folder, Action<JsonObject> edit)
    {
        string path = Path.Combine(folder, "model.safetensors.index.json");
        JsonObject index = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        edit(index["weight_map"]!.AsObject());
        File.WriteAllText(path, index.ToJsonString());
    }

    [Fact]
    public void A_folder_needs_to_exist_with_a_config_and_weights()
    {
        using TempFolder folder = TestData.NewFolder();
        string absent = folder.File("absent");
        var error = CheckpointFails(absent);
        Assert.Equal(absent, error.Path);
        Assert.Equal(["the model folder does not exist"], error.Problems);
        Assert.Equal(["no config.json in the model folder"], CheckpointFails(folder.Path).Problems);
        File.Copy(TestData.Reference("ijepa_tiny_p14", "config.json"), folder.File("config.json"));
        var none = CheckpointFails(folder.Path);
        Assert.Equal(folder.Path, none.Path);
        Assert.Equal(["neither model.safetensors nor model.safetensors.index.json is in the model folder"], none.Problems);
        File.WriteAllText(folder.File("pytorch_model.bin"), "");
        Assert.Equal(["neither model.safetensors nor model.safetensors.index.json is in the model folder (it holds pytorch_model.bin: convert it to safetensors first)"],
            CheckpointFails(folder.Path).Problems);
    }

    [Fact]
    public void A_single_file_checkpoint_lists_its_tensors_and_bytes()
    {
        string folder = TestData.Reference("ijepa_tiny_p14");
        using var checkpoint = HuggingFaceCheckpoint.Open(folder);
        using SafetensorsFile file = SafetensorsFile.Open(Path.Combine(folder, "model.safetensors"));
        Assert.Equal(Path.GetFullPath(folder), checkpoint.Directory);
        Assert.Equal(Path.Combine(Path.GetFullPath(folder), "model.safetensors"), checkpoint.WeightsDescription);
        Assert.Equal(48, checkpoint.Config.HiddenSize);
        Assert.Equal(file.Tensors.Keys.Order(StringComparer.Ordinal), checkpoint.TensorNames.Order(StringComparer.Ordinal));
        Assert.Equal(file.Tensors.Values.Sum(t => t.ByteLength), checkpoint.TotalBytes);
        Assert.Equal(4L * (25 * 48 + 48 * 3 * 14 * 14 + 48 + 2 * 48 + 4 * (4 * 48 * 48 + 4 * 48 + 2 * 48 * 100 + 100 + 48 + 4 * 48)), checkpoint.TotalBytes);
        Assert.True(checkpoint.TryGet("layernorm.bias", out SafetensorsFile owner, out SafetensorsTensorInfo info));
        Assert.Equal(checkpoint.WeightsDescription, owner.Path);
        Assert.Equal([48L], info.Shape);
        Assert.False(checkpoint.TryGet("layernorm.gamma", out SafetensorsFile? none, out SafetensorsTensorInfo? noInfo));
        Assert.Null(none);
        Assert.Null(noInfo);
    }

    [Fact]
    public void A_single_file_wins_over_an_index()
    {
        using TempFolder folder = TestData.CopyModel("ijepa_tiny_p16_sharded");
        TestData.WriteRaw(folder.File("model.safetensors"), TestData.Utf8("{}"), []);
        using var checkpoint = HuggingFaceCheckpoint.Open(folder.Path);
        Assert.Equal(folder.File("model.safetensors"), checkpoint.WeightsDescription);
        Assert.Empty(checkpoint.TensorNames);
        Assert.Equal(0, checkpoint.TotalBytes);
    }

    [Fact]
    public void Shards_are_read_through_the_index()
    {
        string folder = TestData.Reference("ijepa_tiny_p16_sharded");
        using var checkpoint = HuggingFaceCheckpoint.Open(folder);
        Assert.Equal(Path.Combine(Path.GetFullPath(folder), "model.safetensors.index.json"), checkpoint.WeightsDescription);
        using JsonDocument index = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "model.safetensors.index.json")));
        var map = index.RootElement.GetProperty("weight_map").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!);
        Assert.Equal(map.Keys.Order(StringComparer.Ordinal), checkpoint.TensorNames.Order(StringComparer.Ordinal));
        Assert.Equal(index.RootElement.GetProperty("metadata").GetProperty("total_size").GetInt64(), checkpoint.TotalBytes);
        foreach ((string name, string shard) in map)
        {
            Assert.True(checkpoint.TryGet(name, out SafetensorsFile file, out _));
            Assert.Equal(shard, Path.GetFileName(file.Path));
        }
    }

    [Theory]
    [InlineData("")]
    [InlineData(".")]
    [InlineData("..")]
    [InlineData("sub/model-00001-of-00003.safetensors")]
    public void Shard_names_must_be_plain_file_names(string shard)
    {
        using TempFolder folder = TestData.CopyModel("ijepa_tiny_p16_sharded");
        EditIndex(folder.Path, map => map["layernorm.bias"] = shard);
        var error = CheckpointFails(folder.Path);
        Assert.Equal(folder.File("model.safetensors.index.json"), error.Path);
        Assert.Contains($"shard '{shard}' is not a plain file name in the model folder", error.Problems);
    }

    [Fact]
    public void Index_and_shards_must_agree_both_ways()
    {
        using TempFolder folder = TestData.CopyModel("ijepa_tiny_p16_sharded");
        EditIndex(folder.Path, map =>
        {
            map.Remove("layernorm.bias");
            map["made.up"] = "model-00002-of-00003.safetensors";
            map["also.made.up"] = "model-00009-of-00009.safetensors";
        });
        string shard = "";
        using (JsonDocument index = JsonDocument.Parse(File.ReadAllText(TestData.Reference("ijepa_tiny_p16_sharded", "model.safetensors.index.json"))))
        {
            shard = index.RootElement.GetProperty("weight_map").GetProperty("layernorm.bias").GetString()!;
        }
        var error = CheckpointFails(folder.Path);
        Assert.Equal(
            new[] { $"'layernorm.bias' is in {shard} but not in the index", "'made.up' is indexed in model-00002-of-00003.safetensors but that shard does not hold it", "shard 'model-00009-of-00009.safetensors' is listed but missing" }.Order(StringComparer.Ordinal),
            error.Problems.Order(StringComparer.Ordinal));
        if (OperatingSystem.IsLinux())
        {
            Assert.DoesNotContain(SafetensorsMutantTests.OpenFiles(), target => target != null && target.StartsWith(folder.Path, StringComparison.Ordinal));
        }
    }

    [Fact]
    public void Shard_problems_are_listed_in_shard_name_order()
    {
        using TempFolder folder = TestData.CopyModel("ijepa_tiny_p16_sharded");
        EditIndex(folder.Path, map =>
        {
            map["made.up"] = "model-00009-of-00009.safetensors";
            map["also.made.up"] = "model-00008-of-00009.safetensors";
        });
        Assert.Equal(
            ["shard 'model-00008-of-00009.safetensors' is listed but missing", "shard 'model-00009-of-00009.safetensors' is listed but missing"],
            CheckpointFails(folder.Path).Problems);
    }

    [Fact]
    public void Disposing_a_sharded_checkpoint_closes_every_shard()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }
        // A copy of its own, so that no other test has these files open.
        using TempFolder folder = TestData.CopyModel("ijepa_tiny_p16_sharded");
        bool Open() => SafetensorsMutantTests.OpenFiles().Any(target => target != null && target.StartsWith(folder.Path, StringComparison.Ordinal));
        var checkpoint = HuggingFaceCheckpoint.Open(folder.Path);
        Assert.True(Open());
        checkpoint.Dispose();
        Assert.False(Open());
    }

    [Theory]
    [InlineData("[]", "the index has no weight_map object")]
    [InlineData("{\"metadata\": {}}", "the index has no weight_map object")]
    [InlineData("{\"weight_map\": [\"a\"]}", "the index has no weight_map object")]
    [InlineData("{\"weight_map\": {\"a\": 1, \"b\": null}}", "weight_map['a'] is not a file name|weight_map['b'] is not a file name")]
    [InlineData("{\"weight_map\": {\"a\": \"x\", \"a\": \"y\"}}", "weight_map lists 'a' more than once")]
    public void A_malformed_index_is_described(string json, string problems)
    {
        using TempFolder folder = TestData.CopyModel("ijepa_tiny_p16_sharded");
        File.WriteAllText(folder.File("model.safetensors.index.json"), json);
        var error = CheckpointFails(folder.Path);
        Assert.Equal(folder.File("model.safetensors.index.json"), error.Path);
        Assert.Equal(problems.Split('|'), error.Problems);
    }

    [Fact]
    public void An_index_that_is_not_json_or_too_large()
    {
        using TempFolder folder = TestData.CopyModel("ijepa_tiny_p16_sharded");
        string path = folder.File("model.safetensors.index.json");
        File.WriteAllText(path, "{\"weight_map\": ");
        var error = CheckpointFails(folder.Path);
        Assert.StartsWith("the index is not valid JSON: ", Assert.Single(error.Problems), StringComparison.Ordinal);
        Assert.IsType<JsonException>(error.InnerException, exactMatch: false);
        // Sparse files: the size check comes before any reading.
        using (var stream = new FileStream(path, FileMode.Create))
        {
            stream.SetLength(64L * 1024 * 1024 + 1);
        }
        Assert.Equal([$"the index is {64L * 1024 * 1024 + 1} bytes, too large to be a weight map"], CheckpointFails(folder.Path).Problems);
        using (var stream = new FileStream(path, FileMode.Create))
        {
            stream.SetLength(64L * 1024 * 1024);
        }
        Assert.StartsWith("the index is not valid JSON: ", Assert.Single(CheckpointFails(folder.Path).Problems), StringComparison.Ordinal);
    }

    [Fact]
    public void Loading_reports_missing_and_unexpected_tensors_under_the_chosen_prefix()
    {
        using TempFolder folder = TestData.CopyModel("ijepa_tiny_p14");
        string path = folder.File("model.safetensors");
        var tensors = new List<(string, Tensor)>();
        using (SafetensorsFile file = SafetensorsFile.Open(path))
        {
            foreach (SafetensorsTensorInfo info in file.Tensors.Values)
            {
                Tensor t = empty(info.Shape, info.DType.ToScalarType());
                file.ReadInto(info, t.bytes);
                tensors.Add((info.Name, t));
            }
        }
        using Tensor extra = zeros(2);
        void Save(IEnumerable<(string, Tensor)> list) => SafetensorsWriter.Write(path, list);
        string Fails() => string.Join("\n", Assert.Throws<IJepaCheckpointException>(() => IJepaModel.FromPretrained(folder.Path).Dispose()).Problems);

        // Plain names and a prefixed copy: the plain names are the model, the prefixed ones are unexpected.
        Save(tensors.Concat([("ijepa.layernorm.bias", extra), ("pooler.dense.bias", extra), ("classifier.weight", extra)]));
        Assert.Equal("unexpected 'ijepa.layernorm.bias'", Fails());
        // Only the task model's prefixed names: heads at either level are ignored, anything else unprefixed is not.
        Save(tensors.Where(t => t.Item1 != "layernorm.bias").Select(t => ("ijepa." + t.Item1, t.Item2))
            .Concat([("ijepa.pooler.dense.bias", extra), ("classifier.bias", extra), ("other.weight", extra), ("ijepa.other.weight", extra)]));
        Assert.Equal("missing 'ijepa.layernorm.bias' [48]\nunexpected 'ijepa.other.weight'\nunexpected 'other.weight'", Fails());
        // Both position embeddings: the plain names win, and the prefixed one is unexpected.
        Save(tensors.Concat([("ijepa.embeddings.position_embeddings", tensors.Single(t => t.Item1 == "embeddings.position_embeddings").Item2)]));
        Assert.Equal("unexpected 'ijepa.embeddings.position_embeddings'", Fails());
        // Neither position embedding: names are taken as plain.
        Save(tensors.Where(t => t.Item1 != "embeddings.position_embeddings"));
        Assert.Equal("missing 'embeddings.position_embeddings' [1,25,48]", Fails());
        tensors.ForEach(t => t.Item2.Dispose());
    }

    [Theory]
    [InlineData(ScalarType.Float64)]
    [InlineData(ScalarType.BFloat16)]
    [InlineData(ScalarType.Float16)]
    public void Float32_weights_are_converted_to_the_models_dtype(ScalarType dtype)
    {
        string folder = TestData.Reference("ijepa_tiny_p14");
        using IJepaModel converted = IJepaModel.FromPretrained(folder, dtype);
        using IJepaModel plain = IJepaModel.FromPretrained(folder);
        var reference = plain.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter);
        foreach ((string name, var parameter) in converted.named_parameters())
        {
            Assert.Equal(dtype, parameter.dtype);
            using Tensor expected = reference[name].to(dtype);
            Assert.True(expected.eq(parameter).all().item<bool>(), name);
        }
    }

    private const string AbcSha256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"; // FIPS 180-2 test vector

    [Fact]
    public void Digests_are_64_hex_digits_in_any_case_around_spaces()
    {
        using TempFolder folder = TestData.NewFolder();
        string abc = folder.File("abc.txt");
        File.WriteAllText(abc, "abc");
        CheckpointIntegrity.Verify(abc, "  " + AbcSha256.ToUpperInvariant() + "\n");
        foreach (string bad in new[] { AbcSha256[..63], AbcSha256 + "0", AbcSha256[..63] + "g", "" })
        {
            var error = Assert.Throws<ArgumentException>(() => CheckpointIntegrity.Verify(abc, bad));
            Assert.Equal("digest", error.ParamName);
            Assert.StartsWith($"'{bad}' is not a SHA-256 digest (64 hex digits)", error.Message, StringComparison.Ordinal);
        }
        Assert.Throws<ArgumentNullException>(() => CheckpointIntegrity.Verify(abc, null!));
        string other = new('0', 64);
        var mismatch = Assert.Throws<IJepaCheckpointException>(() => CheckpointIntegrity.Verify(abc, other.ToUpperInvariant().Replace('0', 'A')));
        Assert.Equal(abc, mismatch.Path);
        Assert.Equal([$"SHA-256 mismatch: expected {new string('a', 64)}, the file has {AbcSha256} (corrupted or different download)"], mismatch.Problems);
    }

    [Fact]
    public void Unreadable_files_are_checkpoint_errors()
    {
        using TempFolder folder = TestData.NewFolder();
        Assert.Throws<ArgumentNullException>(() => CheckpointIntegrity.ComputeSha256(null!));
        Assert.Throws<ArgumentException>(() => CheckpointIntegrity.ComputeSha256(""));
        string missing = folder.File("missing.safetensors");
        var error = Assert.Throws<IJepaCheckpointException>(() => CheckpointIntegrity.ComputeSha256(missing));
        Assert.Equal(missing, error.Path);
        Assert.StartsWith("cannot read the file to check its SHA-256: ", Assert.Single(error.Problems), StringComparison.Ordinal);
        Assert.IsType<FileNotFoundException>(error.InnerException);
        var directory = Assert.Throws<IJepaCheckpointException>(() => CheckpointIntegrity.ComputeSha256(folder.Path));
        Assert.IsType<UnauthorizedAccessException>(directory.InnerException);
        Assert.Equal("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", CheckpointIntegrity.ComputeSha256(Touch(folder.File("empty"))));
    }

    private static string Touch(string path)
    {
        File.WriteAllBytes(path, []);
        return path;
    }

    [Fact]
    public void A_folder_check_stays_inside_the_folder_and_checks_every_file()
    {
        using TempFolder root = TestData.NewFolder();
        string model = Path.Combine(root.Path, "model");
        Directory.CreateDirectory(model);
        Directory.CreateDirectory(model + "2");
        File.WriteAllText(Path.Combine(model, "a.bin"), "abc");
        File.WriteAllText(Path.Combine(model + "2", "b.bin"), "abc");
        File.WriteAllText(Path.Combine(model, "c.bin"), "abd");
        Assert.Throws<ArgumentNullException>(() => CheckpointIntegrity.VerifyFolder(model, null!));
        CheckpointIntegrity.VerifyFolder(model, new Dictionary<string, string> { ["a.bin"] = AbcSha256, ["./a.bin"] = AbcSha256 });
        // A sibling whose name starts with the folder's is outside it; so is the folder itself.
        foreach (string outside in new[] { "../model2/b.bin", "", "../model" })
        {
            var error = Assert.Throws<ArgumentException>(() => CheckpointIntegrity.VerifyFolder(model, new Dictionary<string, string> { [outside] = AbcSha256 }));
            Assert.Equal("expectedSha256", error.ParamName);
            Assert.StartsWith($"'{outside}' is not a file inside {model}", error.Message, StringComparison.Ordinal);
        }
        var missing = Assert.Throws<IJepaCheckpointException>(() => CheckpointIntegrity.VerifyFolder(model, new Dictionary<string, string> { ["a.bin"] = AbcSha256, ["sub/x.bin"] = AbcSha256 }));
        Assert.Equal(Path.Combine(model, "sub", "x.bin"), missing.Path);
        Assert.Equal(["a SHA-256 was given for this file, but it does not exist"], missing.Problems);
        var wrong = Assert.Throws<IJepaCheckpointException>(() => CheckpointIntegrity.VerifyFolder(model, new Dictionary<string, string> { ["a.bin"] = AbcSha256, ["c.bin"] = AbcSha256 }));
        Assert.Equal(Path.Combine(model, "c.bin"), wrong.Path);
    }

    [Fact]
    public void A_checkpoint_error_lists_up_to_twenty_problems_and_counts_the_rest()
    {
        string nl = Environment.NewLine;
        Assert.Equal("m.safetensors: bad", new IJepaCheckpointException("m.safetensors", "bad").Message);
        Assert.Equal($"m: 2 problems:{nl}  - a{nl}  - b", new IJepaCheckpointException("m", ["a", "b"]).Message);
        string[] twenty = [.. Enumerable.Range(1, 20).Select(i => $"p{i}")];
        string listed = string.Join(nl, twenty.Select(p => "  - " + p));
        Assert.Equal($"m: 20 problems:{nl}{listed}", new IJepaCheckpointException("m", twenty).Message);
        var twentyTwo = new IJepaCheckpointException("m", [.. twenty, "p21", "p22"]);
        Assert.Equal($"m: 22 problems:{nl}{listed}{nl}  ... and 2 more", twentyTwo.Message);
        Assert.Equal(22, twentyTwo.Problems.Count);
    }
}
